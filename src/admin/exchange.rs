//! Token exchange (RFC 8693) policy of a client, as an operator sets it: at registration
//! (`NewClient::exchange`) or later (`set_policy`).
use super::AdminError;
use crate::audit;
use crate::domain::{ClientId, Scope};
use crate::oauth::model::ExchangePolicy;
use crate::store::Store;

/// A token exchange policy as typed. Empty (no audience, no scope, no impersonation) means
/// no token exchange.
#[derive(Debug, Clone, Default)]
pub struct NewExchangePolicy {
    /// Downstream audiences the client may exchange for; repeatable.
    pub audiences: Vec<String>,
    /// Scopes the client may pass on; each value may hold several space-separated tokens.
    pub scopes: Vec<String>,
    pub may_impersonate: bool,
    /// Issuers whose access tokens the client may present as subject tokens; repeatable.
    /// None: this server's own tokens only.
    pub issuers: Vec<String>,
}

impl NewExchangePolicy {
    fn is_empty(&self) -> bool {
        self.audiences.is_empty()
            && self.scopes.is_empty()
            && !self.may_impersonate
            && self.issuers.is_empty()
    }
}

/// Validates a policy. `None` when nothing was given. Pure.
pub fn build(new: &NewExchangePolicy) -> Result<Option<ExchangePolicy>, AdminError> {
    if new.is_empty() {
        return Ok(None);
    }
    if new.audiences.is_empty() {
        return Err(AdminError::invalid(
            "token exchange needs at least one --exchange-audience (the downstream services the client may call)",
        ));
    }
    let mut audiences: Vec<String> = Vec::new();
    for a in &new.audiences {
        ExchangePolicy::validate_audience(a).map_err(AdminError::invalid)?;
        if !audiences.contains(a) {
            audiences.push(a.clone());
        }
    }
    let mut subject_issuers: Vec<String> = Vec::new();
    for i in &new.issuers {
        ExchangePolicy::validate_issuer(i).map_err(AdminError::invalid)?;
        if !subject_issuers.contains(i) {
            subject_issuers.push(i.clone());
        }
    }
    let scope = Scope::parse(&new.scopes.join(" ")).map_err(AdminError::invalid)?;
    Ok(Some(ExchangePolicy {
        audiences,
        scope,
        may_impersonate: new.may_impersonate,
        subject_issuers,
    }))
}

/// Sets (or, with an empty `new`, removes) the token exchange policy of a client. Only
/// confidential clients may exchange tokens.
pub async fn set_policy(
    store: &Store,
    id: &str,
    new: &NewExchangePolicy,
) -> Result<Option<ExchangePolicy>, AdminError> {
    let id = ClientId::parse(id).map_err(AdminError::invalid)?;
    let client = store
        .get_client(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {id} does not exist")))?;
    let policy = build(new)?;
    if policy.is_some() && client.is_public() {
        return Err(AdminError::invalid(PUBLIC_CLIENT));
    }
    store.set_exchange_policy(&id, policy.as_ref()).await?;
    audit::Event::new(audit::Kind::ClientExchangePolicyChanged)
        .client(id.as_str())
        .actor(audit::ACTOR_CLI)
        .emit();
    Ok(policy)
}

pub(crate) const PUBLIC_CLIENT: &str =
    "a public client cannot use token exchange: it cannot authenticate (RFC 8693 section 2.1)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_given_is_no_policy() {
        assert_eq!(build(&NewExchangePolicy::default()).unwrap(), None);
    }

    #[test]
    fn scopes_without_audience_are_refused() {
        let new = NewExchangePolicy {
            scopes: vec!["orders:read".into()],
            ..Default::default()
        };
        assert!(matches!(build(&new), Err(AdminError::Invalid(_))));
    }

    #[test]
    fn audiences_are_deduplicated_and_checked() {
        let new = NewExchangePolicy {
            audiences: vec!["orders".into(), "orders".into(), "https://b.example".into()],
            scopes: vec!["a b".into(), "c".into()],
            may_impersonate: false,
            issuers: vec!["https://idp.example".into(), "https://idp.example".into()],
        };
        let p = build(&new).unwrap().unwrap();
        assert_eq!(p.audiences, vec!["orders", "https://b.example"]);
        assert_eq!(p.scope.to_string(), "a b c");
        assert_eq!(p.subject_issuers, vec!["https://idp.example"]);
        let bad = NewExchangePolicy {
            audiences: vec!["two words".into()],
            ..Default::default()
        };
        assert!(matches!(build(&bad), Err(AdminError::Invalid(_))));
        let bad = NewExchangePolicy {
            audiences: vec!["orders".into()],
            issuers: vec!["https://idp.example/ x".into()],
            ..Default::default()
        };
        assert!(matches!(build(&bad), Err(AdminError::Invalid(_))));
    }
}
