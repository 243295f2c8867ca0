//! Registered clients: the `ClientRepository` port and the operator queries.
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use url::Url;

use super::DbResultExt;
use super::entities::{client, client_exchange_policy};
use super::exchange_policy;
use super::{Store, StoreError, tokens, unix_now, write_error};
use crate::domain::{AuthMethod, ClientId, GrantType, RedirectUri, ResourceUri, Scope, SigningAlg};
use crate::oauth::model::{Client, ExchangePolicy};
use crate::oauth::ports::ClientRepository;
use crate::read_ahead::Settled;

#[async_trait]
impl ClientRepository for Store {
    async fn find_client(&self, id: &ClientId) -> anyhow::Result<Option<Arc<Client>>> {
        let settled = self
            .client_cache
            .get(id.as_str())
            .or_read("a cached client", || async {
                Ok::<_, anyhow::Error>(self.get_client(id).await?.map(Arc::new))
            })
            .await?;
        let (found, read_at) = match settled {
            Settled::Cached(cached) => return Ok(Some(cached)),
            Settled::Read { value, read_at } => (value, read_at),
        };
        match &found {
            Some(c) => self.client_cache.put(c, read_at),
            None => self.client_cache.forget(id.as_str()),
        }
        Ok(found)
    }
}

impl Store {
    /// Inserts a new client; `StoreError::Duplicate` when the id is taken.
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let now = unix_now();
        let row = to_row(c, now).context("failed to encode the client")?;
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        client::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| write_error(e, || format!("failed to insert client {}", c.id)))?;
        if let Some(p) = &c.exchange {
            exchange_policy::insert(&txn, &c.id, p, now).await?;
        }
        txn.commit()
            .await
            .with_db_context(|| format!("failed to commit inserting client {}", c.id))?;
        Ok(())
    }

    pub async fn get_client(&self, id: &ClientId) -> anyhow::Result<Option<Client>> {
        let row = client::Entity::find_by_id(id.as_str().to_owned())
            .one(&self.db)
            .await
            .with_db_context(|| format!("failed to load client {id}"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let policy = exchange_policy::find(&self.db, id).await?;
        from_row(row, policy).map(Some)
    }

    /// Every client, ordered by id. Fails on the first row that no longer parses, naming it.
    pub async fn list_clients(&self) -> anyhow::Result<Vec<Client>> {
        let rows = client::Entity::find()
            .order_by_asc(client::Column::Id)
            .all(&self.db)
            .await
            .db_context("failed to list clients")?;
        let mut policies = exchange_policy::all(&self.db).await?;
        rows.into_iter()
            .map(|r| {
                let p = policies.remove(&r.id);
                from_row(r, p)
            })
            .collect()
    }

    /// Replaces (or with `None` removes) the client's token exchange policy.
    pub async fn set_exchange_policy(
        &self,
        id: &ClientId,
        policy: Option<&ExchangePolicy>,
    ) -> anyhow::Result<()> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        exchange_policy::delete(&txn, id).await?;
        if let Some(p) = policy {
            exchange_policy::insert(&txn, id, p, unix_now()).await?;
        }
        txn.commit()
            .await
            .with_db_context(|| format!("failed to commit the exchange policy of client {id}"))?;
        // This node sees the change at once; the others within `cache.client_ttl`.
        self.client_cache.forget(id.as_str());
        Ok(())
    }

    /// Deletes the client and, through the foreign keys, its grants, codes, refresh tokens
    /// and consents. Access tokens issued under its grants are added to the revocation list
    /// first, so they stop working before they expire. Returns false when there was no such
    /// client.
    pub async fn delete_client(&self, id: &ClientId) -> anyhow::Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        tokens::revoke_grant_access_tokens(
            &txn,
            super::entities::grant::Column::ClientId,
            id.as_str(),
            unix_now(),
        )
        .await
        .with_context(|| format!("failed to revoke access tokens of client {id}"))?;
        let res = client::Entity::delete_by_id(id.as_str().to_owned())
            .exec(&txn)
            .await
            .with_db_context(|| format!("failed to delete client {id}"))?;
        txn.commit()
            .await
            .with_db_context(|| format!("failed to commit deleting client {id}"))?;
        self.client_cache.forget(id.as_str());
        self.revocations_changed().await;
        Ok(res.rows_affected > 0)
    }

    /// Replaces the stored secret hash; the old secret stops working at once. Returns false
    /// when there is no such client.
    pub async fn set_client_secret_hash(
        &self,
        id: &ClientId,
        secret_hash: &str,
    ) -> anyhow::Result<bool> {
        let res = client::Entity::update_many()
            .col_expr(
                client::Column::SecretHash,
                sea_orm::sea_query::Expr::value(secret_hash),
            )
            .col_expr(
                client::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(unix_now()),
            )
            .filter(client::Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .with_db_context(|| format!("failed to update the secret of client {id}"))?;
        self.client_cache.forget(id.as_str());
        Ok(res.rows_affected > 0)
    }

    /// Sets whether sign-ins for the client need two factors. Returns false when there is
    /// no such client.
    pub async fn set_client_require_two_factor(
        &self,
        id: &ClientId,
        require: bool,
    ) -> anyhow::Result<bool> {
        let res = client::Entity::update_many()
            .col_expr(
                client::Column::RequireTwoFactor,
                sea_orm::sea_query::Expr::value(require),
            )
            .col_expr(
                client::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(unix_now()),
            )
            .filter(client::Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .with_db_context(|| format!("failed to update client {id}"))?;
        self.client_cache.forget(id.as_str());
        Ok(res.rows_affected > 0)
    }
}

fn to_row(c: &Client, now: i64) -> anyhow::Result<client::ActiveModel> {
    let redirect_uris: Vec<&str> = c.redirect_uris.iter().map(RedirectUri::as_str).collect();
    let post_logout: Vec<&str> = c
        .post_logout_redirect_uris
        .iter()
        .map(RedirectUri::as_str)
        .collect();
    let grant_types: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    let audiences: Vec<&str> = c.audiences.iter().map(ResourceUri::as_str).collect();
    let m = client::ActiveModel {
        id: Set(c.id.as_str().to_owned()),
        name: Set(c.name.clone()),
        secret_hash: Set(c.secret_hash.clone()),
        auth_method: Set(c.auth_method.as_str().to_owned()),
        redirect_uris: Set(serde_json::to_string(&redirect_uris)?),
        post_logout_redirect_uris: Set(serde_json::to_string(&post_logout)?),
        backchannel_logout_uri: Set(c.backchannel_logout_uri.as_ref().map(Url::to_string)),
        backchannel_logout_session_required: Set(c.backchannel_logout_session_required),
        grant_types: Set(serde_json::to_string(&grant_types)?),
        scopes: Set(c.scope.to_string()),
        audiences: Set(serde_json::to_string(&audiences)?),
        jwks: Set(c.jwks.clone()),
        jwks_uri: Set(c.jwks_uri.as_ref().map(Url::to_string)),
        access_token_alg: Set(c.access_token_alg.map(|a| a.as_str().to_owned())),
        id_token_alg: Set(c.id_token_alg.map(|a| a.as_str().to_owned())),
        first_party: Set(c.first_party),
        require_pkce: Set(c.require_pkce),
        always_issue_refresh_token: Set(c.always_issue_refresh_token),
        require_two_factor: Set(c.require_two_factor),
        created_at: Set(c.created_at),
        updated_at: Set(now),
    };
    Ok(m)
}

/// Parses a stored row through the domain types, so a row edited by hand into something
/// invalid is refused rather than trusted.
fn from_row(
    m: client::Model,
    policy: Option<client_exchange_policy::Model>,
) -> anyhow::Result<Client> {
    let id = m.id.clone();
    let exchange = policy
        .map(exchange_policy::parse)
        .transpose()
        .with_context(|| format!("stored exchange policy of client {id:?} is invalid"))?;
    let mut c = parse_row(m).with_context(|| format!("stored client {id:?} is invalid"))?;
    c.exchange = exchange;
    Ok(c)
}

fn parse_row(m: client::Model) -> anyhow::Result<Client> {
    let json_list = |field: &str, text: &str| -> anyhow::Result<Vec<String>> {
        serde_json::from_str(text)
            .with_context(|| format!("{field} is not a JSON array of strings"))
    };
    let redirect_uris = json_list("redirect_uris", &m.redirect_uris)?
        .iter()
        .map(|s| RedirectUri::parse(s))
        .collect::<Result<_, _>>()
        .context("redirect_uris")?;
    let post_logout_redirect_uris =
        json_list("post_logout_redirect_uris", &m.post_logout_redirect_uris)?
            .iter()
            .map(|s| RedirectUri::parse(s))
            .collect::<Result<_, _>>()
            .context("post_logout_redirect_uris")?;
    let grant_types = json_list("grant_types", &m.grant_types)?
        .iter()
        .map(|s| GrantType::parse(s))
        .collect::<Result<_, _>>()
        .context("grant_types")?;
    let audiences = json_list("audiences", &m.audiences)?
        .iter()
        .map(|s| ResourceUri::parse(s))
        .collect::<Result<_, _>>()
        .context("audiences")?;
    let alg = |field: &str, v: Option<String>| -> anyhow::Result<Option<SigningAlg>> {
        v.map(|s| SigningAlg::parse(&s))
            .transpose()
            .with_context(|| field.to_owned())
    };
    Ok(Client {
        id: ClientId::parse(&m.id).context("id")?,
        name: m.name,
        secret_hash: m.secret_hash,
        auth_method: AuthMethod::parse(&m.auth_method).context("auth_method")?,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri: m
            .backchannel_logout_uri
            .map(|s| Url::parse(&s))
            .transpose()
            .context("backchannel_logout_uri")?,
        backchannel_logout_session_required: m.backchannel_logout_session_required,
        grant_types,
        scope: Scope::parse(&m.scopes).context("scopes")?,
        audiences,
        jwks: m.jwks,
        jwks_uri: m
            .jwks_uri
            .map(|s| Url::parse(&s))
            .transpose()
            .context("jwks_uri")?,
        access_token_alg: alg("access_token_alg", m.access_token_alg)?,
        id_token_alg: alg("id_token_alg", m.id_token_alg)?,
        first_party: m.first_party,
        require_pkce: m.require_pkce,
        always_issue_refresh_token: m.always_issue_refresh_token,
        require_two_factor: m.require_two_factor,
        exchange: None,
        created_at: m.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> client::Model {
        client::Model {
            id: "web".into(),
            name: "Web".into(),
            secret_hash: Some("h".into()),
            auth_method: "client_secret_basic".into(),
            redirect_uris: r#"["https://app.example.com/cb"]"#.into(),
            post_logout_redirect_uris: "[]".into(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            grant_types: r#"["authorization_code","refresh_token"]"#.into(),
            scopes: "openid profile".into(),
            audiences: "[]".into(),
            jwks: None,
            jwks_uri: None,
            access_token_alg: Some("ES256".into()),
            id_token_alg: None,
            first_party: false,
            require_pkce: true,
            always_issue_refresh_token: false,
            require_two_factor: false,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn parses_a_valid_row() {
        let c = from_row(row(), None).unwrap();
        assert_eq!(c.redirect_uris[0].as_str(), "https://app.example.com/cb");
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(c.access_token_alg, Some(SigningAlg::ES256));
    }

    #[test]
    fn a_bad_row_names_the_client_and_the_field() {
        let mut m = row();
        m.redirect_uris = r#"["https://app.example.com/cb#x"]"#.into();
        let err = format!("{:#}", from_row(m, None).unwrap_err());
        assert!(err.contains("\"web\""), "{err}");
        assert!(err.contains("redirect_uris"), "{err}");
    }
}
