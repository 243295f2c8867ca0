//! Client registration by an operator. `build` holds every rule and touches nothing; the
//! async functions add storage: `create`, `list`, `get` and `delete` here, the secret's
//! rules and rotation in `secret`, changes to a registered client in `update`.
mod build;
mod secret;
mod update;

pub use self::build::build;
pub use self::secret::{MAX_SECRET_LEN, MIN_SECRET_LEN, rotate_secret};
pub use self::update::{ClientUpdate, update};

use super::AdminError;
use super::exchange::NewExchangePolicy;
use crate::audit;
use crate::domain::ClientId;
use crate::oauth::model::Client;
use crate::store::{Store, StoreError};

/// An operator's request to register a client, as typed. Every field is parsed by `build`.
#[derive(Clone, Default)]
pub struct NewClient {
    pub id: String,
    /// A secret of the operator's choosing; one is generated when a secret-based client
    /// is registered without one.
    pub secret: Option<String>,
    /// Display name; the id when absent.
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    /// OpenID Connect RP-Initiated Logout 1.0 `post_logout_redirect_uris`.
    pub post_logout_redirect_uris: Vec<String>,
    /// OpenID Connect Back-Channel Logout 1.0 `backchannel_logout_uri`.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub grant_types: Vec<String>,
    /// Scope values; each may itself hold several space-separated tokens.
    pub scopes: Vec<String>,
    /// A public client (RFC 6749 section 2.1): no credentials, authorization_code with PKCE.
    pub public: bool,
    pub auth_method: Option<String>,
    pub jwks_uri: Option<String>,
    /// The text of a JWK Set file, for `private_key_jwt`.
    pub jwks_file_contents: Option<String>,
    pub audiences: Vec<String>,
    pub access_token_alg: Option<String>,
    pub id_token_alg: Option<String>,
    pub first_party: bool,
    pub no_pkce: bool,
    /// Refresh tokens without `offline_access` (needs the refresh_token grant).
    pub always_issue_refresh_token: bool,
    /// Sign-ins for this client need two factors.
    pub require_two_factor: bool,
    /// Token exchange (RFC 8693) policy; empty means none.
    pub exchange: NewExchangePolicy,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .field("scopes", &self.scopes)
            .field("public", &self.public)
            .field("auth_method", &self.auth_method)
            .finish_non_exhaustive()
    }
}

/// A registered client, and its secret when Latchkey generated it. The secret exists only
/// here: the store keeps a keyed hash.
pub struct CreatedClient {
    pub client: Client,
    pub generated_secret: Option<String>,
}

/// Validates and stores a new client. Returns the generated secret, if any, which is not
/// kept anywhere and cannot be shown again.
pub async fn create(store: &Store, new: NewClient) -> Result<CreatedClient, AdminError> {
    let created = build(new, store.secret_hasher(), crate::store::unix_now())?;
    match store.insert_client(&created.client).await {
        Ok(()) => {
            audit::Event::new(audit::Kind::ClientCreated)
                .client(created.client.id.as_str())
                .actor(audit::ACTOR_CLI)
                .emit();
            Ok(created)
        }
        Err(StoreError::Duplicate) => Err(AdminError::Duplicate(format!(
            "client {} already exists",
            created.client.id
        ))),
        Err(StoreError::Other(e)) => Err(AdminError::Internal(e)),
    }
}

pub async fn list(store: &Store) -> Result<Vec<Client>, AdminError> {
    Ok(store.list_clients().await?)
}

pub async fn get(store: &Store, id: &str) -> Result<Client, AdminError> {
    let id = ClientId::parse(id).map_err(AdminError::invalid)?;
    store
        .get_client(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {id} does not exist")))
}

/// Deletes the client with its grants, tokens and consents.
pub async fn delete(store: &Store, id: &str) -> Result<(), AdminError> {
    let id = ClientId::parse(id).map_err(AdminError::invalid)?;
    if store.delete_client(&id).await? {
        audit::Event::new(audit::Kind::ClientDeleted)
            .client(id.as_str())
            .actor(audit::ACTOR_CLI)
            .emit();
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("client {id} does not exist")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::sqlite_store;

    pub(super) fn web() -> NewClient {
        NewClient {
            id: "web".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..NewClient::default()
        }
    }

    #[tokio::test]
    async fn invalid_redirect_uri_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut n = web();
        n.redirect_uris.push("https://app.example.com/cb#x".into());
        assert!(matches!(
            create(&store, n).await,
            Err(AdminError::Invalid(_))
        ));
        assert!(store.list_clients().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn create_stores_the_client_and_only_a_hash_of_its_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let created = create(&store, web()).await.unwrap();
        let secret = created.generated_secret.unwrap();

        let stored = get(&store, "web").await.unwrap();
        let hash = stored.secret_hash.as_deref().unwrap();
        assert_ne!(hash, secret);
        assert!(store.secret_hasher().verify(&secret, hash));
        assert_eq!(stored.redirect_uris, created.client.redirect_uris);
        assert_eq!(stored.scope, created.client.scope);

        match create(&store, web()).await {
            Err(AdminError::Duplicate(msg)) => assert_eq!(msg, "client web already exists"),
            other => panic!("expected Duplicate, got {:?}", other.err()),
        }
    }

    #[tokio::test]
    async fn delete_reports_missing_clients() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        create(&store, web()).await.unwrap();
        delete(&store, "web").await.unwrap();
        assert!(matches!(
            delete(&store, "web").await,
            Err(AdminError::NotFound(_))
        ));
        assert!(list(&store).await.unwrap().is_empty());
    }
}
