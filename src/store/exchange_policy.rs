//! Rows of `client_exchange_policies`: a client's token exchange (RFC 8693) policy, read
//! and written with its client.
use std::collections::HashMap;

use anyhow::Context;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::DbResultExt;
use super::entities::client_exchange_policy as row;
use crate::domain::{ClientId, Scope};
use crate::oauth::model::ExchangePolicy;

pub async fn find(db: &impl ConnectionTrait, id: &ClientId) -> anyhow::Result<Option<row::Model>> {
    row::Entity::find_by_id(id.as_str().to_owned())
        .one(db)
        .await
        .with_db_context(|| format!("failed to load the exchange policy of client {id}"))
}

/// Every policy, by client id.
pub async fn all(db: &impl ConnectionTrait) -> anyhow::Result<HashMap<String, row::Model>> {
    let rows = row::Entity::find()
        .all(db)
        .await
        .db_context("failed to list exchange policies")?;
    Ok(rows.into_iter().map(|r| (r.client_id.clone(), r)).collect())
}

pub async fn insert(
    db: &impl ConnectionTrait,
    id: &ClientId,
    p: &ExchangePolicy,
    now: i64,
) -> anyhow::Result<()> {
    let m = row::ActiveModel {
        client_id: Set(id.as_str().to_owned()),
        audiences: Set(serde_json::to_string(&p.audiences)?),
        scopes: Set(p.scope.to_string()),
        may_impersonate: Set(p.may_impersonate),
        subject_issuers: Set(serde_json::to_string(&p.subject_issuers)?),
        updated_at: Set(now),
    };
    row::Entity::insert(m)
        .exec_without_returning(db)
        .await
        .with_db_context(|| format!("failed to store the exchange policy of client {id}"))?;
    Ok(())
}

pub async fn delete(db: &impl ConnectionTrait, id: &ClientId) -> anyhow::Result<()> {
    row::Entity::delete_by_id(id.as_str().to_owned())
        .exec(db)
        .await
        .with_db_context(|| format!("failed to delete the exchange policy of client {id}"))?;
    Ok(())
}

/// Parses a stored row through the same rules as the operator's input.
pub fn parse(m: row::Model) -> anyhow::Result<ExchangePolicy> {
    let audiences: Vec<String> =
        serde_json::from_str(&m.audiences).context("audiences is not a JSON array of strings")?;
    if audiences.is_empty() {
        anyhow::bail!("audiences is empty");
    }
    for a in &audiences {
        ExchangePolicy::validate_audience(a)
            .map_err(anyhow::Error::msg)
            .context("audiences")?;
    }
    let subject_issuers: Vec<String> = serde_json::from_str(&m.subject_issuers)
        .context("subject_issuers is not a JSON array of strings")?;
    for i in &subject_issuers {
        ExchangePolicy::validate_issuer(i)
            .map_err(anyhow::Error::msg)
            .context("subject_issuers")?;
    }
    Ok(ExchangePolicy {
        audiences,
        scope: Scope::parse(&m.scopes).context("scopes")?,
        may_impersonate: m.may_impersonate,
        subject_issuers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(audiences: &str, scopes: &str) -> row::Model {
        row::Model {
            client_id: "svc".into(),
            audiences: audiences.into(),
            scopes: scopes.into(),
            may_impersonate: false,
            subject_issuers: r#"["https://partner.example"]"#.into(),
            updated_at: 1,
        }
    }

    #[test]
    fn a_valid_row_parses() {
        let p = parse(row(r#"["orders","https://b.example/api"]"#, "a b")).unwrap();
        assert_eq!(p.audiences, ["orders", "https://b.example/api"]);
        assert_eq!(p.scope.to_string(), "a b");
        assert_eq!(p.subject_issuers, ["https://partner.example"]);
    }

    #[test]
    fn rows_edited_into_nonsense_are_refused() {
        assert!(parse(row("[]", "a")).is_err(), "no audience");
        assert!(parse(row("orders", "a")).is_err(), "not JSON");
        assert!(parse(row(r#"["two words"]"#, "a")).is_err(), "bad audience");
        assert!(
            parse(row(r#"["orders"]"#, "bad\u{1}scope")).is_err(),
            "bad scope"
        );
        let mut bad_issuers = row(r#"["orders"]"#, "a");
        bad_issuers.subject_issuers = r#"["two words"]"#.into();
        assert!(parse(bad_issuers).is_err(), "bad issuer");
    }
}
