//! Client registration by an operator. `build` holds every rule and touches nothing; the
//! async functions add storage.
use std::collections::BTreeSet;

use super::exchange::{self, NewExchangePolicy};
use super::jwks::{parse_jwks_uri, validate_jwks};
use super::{AdminError, validate_display_name};
use crate::audit;
use crate::crypto::{SecretHasher, random_token};
use crate::domain::{AuthMethod, ClientId, GrantType, RedirectUri, ResourceUri, Scope, SigningAlg};
use crate::keys::OutboundPolicy;
use crate::oauth::model::Client;
use crate::store::{Store, StoreError};
use url::Url;

/// Shortest client secret an operator may choose; generated ones have 256 bits.
pub const MIN_SECRET_LEN: usize = 16;
pub const MAX_SECRET_LEN: usize = 512;

/// Scopes given to a client with the authorization_code grant when none are named.
const DEFAULT_USER_SCOPES: [&str; 3] = ["openid", "profile", "email"];

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

/// Parses redirect URIs, dropping repeats.
fn unique_redirect_uris(list: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    let mut out: Vec<RedirectUri> = Vec::new();
    for s in list {
        let uri = RedirectUri::parse(s).map_err(AdminError::invalid)?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Back-Channel Logout 1.0 section 2.2: an absolute URI without a fragment, which this server
/// may connect to under the same outbound policy as a client's `jwks_uri`.
fn backchannel_logout_uri(s: &str) -> Result<Url, AdminError> {
    let url = Url::parse(s)
        .map_err(|e| AdminError::invalid(format!("backchannel_logout_uri is not a URL: {e}")))?;
    if url.fragment().is_some() {
        return Err(AdminError::invalid(
            "backchannel_logout_uri must not have a fragment",
        ));
    }
    OutboundPolicy::default()
        .check_url(&url)
        .map_err(|_| {
            AdminError::invalid(
                "backchannel_logout_uri must be https (http only to a loopback host) and not a link-local or metadata address",
            )
        })?;
    Ok(url)
}

/// Validates `new` and builds the client to store, hashing its secret with `hasher`.
/// Pure: nothing is read or written.
pub fn build(new: NewClient, hasher: &SecretHasher, now: i64) -> Result<CreatedClient, AdminError> {
    let id = ClientId::parse(&new.id).map_err(AdminError::invalid)?;
    let name = match &new.name {
        Some(n) => validate_display_name("client name", n)?,
        None => id.to_string(),
    };

    let redirect_uris = unique_redirect_uris(&new.redirect_uris)?;
    let post_logout_redirect_uris = unique_redirect_uris(&new.post_logout_redirect_uris)?;
    let backchannel_logout_uri = new
        .backchannel_logout_uri
        .as_deref()
        .map(backchannel_logout_uri)
        .transpose()?;
    let mut audiences: Vec<ResourceUri> = Vec::new();
    for s in &new.audiences {
        let aud = ResourceUri::parse(s).map_err(AdminError::invalid)?;
        if !audiences.contains(&aud) {
            audiences.push(aud);
        }
    }
    let alg = |s: &Option<String>| {
        s.as_deref()
            .map(SigningAlg::parse)
            .transpose()
            .map_err(AdminError::invalid)
    };
    let access_token_alg = alg(&new.access_token_alg)?;
    let id_token_alg = alg(&new.id_token_alg)?;
    // Each value may hold several tokens ("--scope 'openid email'").
    let requested_scope = Scope::parse(&new.scopes.join(" ")).map_err(AdminError::invalid)?;

    let method_arg = new
        .auth_method
        .as_deref()
        .map(AuthMethod::parse)
        .transpose()
        .map_err(AdminError::invalid)?;
    let is_public = new.public || method_arg == Some(AuthMethod::None);

    let mut grants = BTreeSet::new();
    for s in &new.grant_types {
        grants.insert(GrantType::parse(s).map_err(AdminError::invalid)?);
    }
    if grants.contains(&GrantType::TokenExchange) {
        return Err(AdminError::invalid(
            "token exchange is allowed by a policy, not a grant type: use --exchange-audience (and --exchange-scope)",
        ));
    }
    if grants.is_empty() {
        if redirect_uris.is_empty() {
            if is_public {
                return Err(AdminError::invalid(
                    "a public client can use only the authorization_code grant, which needs at least one --redirect-uri",
                ));
            }
            grants.insert(GrantType::ClientCredentials);
        } else {
            grants.insert(GrantType::AuthorizationCode);
            grants.insert(GrantType::RefreshToken);
        }
    }
    let has_code = grants.contains(&GrantType::AuthorizationCode);
    if has_code && redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "the authorization_code grant needs at least one --redirect-uri (RFC 6749 section 3.1.2)",
        ));
    }
    if !has_code && !redirect_uris.is_empty() {
        return Err(AdminError::invalid(
            "redirect URIs are used only by the authorization_code grant; add --grant-type authorization_code or drop --redirect-uri",
        ));
    }
    if !has_code && (!post_logout_redirect_uris.is_empty() || backchannel_logout_uri.is_some()) {
        return Err(AdminError::invalid(
            "post-logout redirect URIs and back-channel logout need a client that signs people in (the authorization_code grant)",
        ));
    }
    if grants.contains(&GrantType::RefreshToken) && !has_code {
        return Err(AdminError::invalid(
            "refresh_token is issued only with authorization_code (RFC 6749 section 4.4.3: not for client_credentials)",
        ));
    }

    if new.jwks_uri.is_some() && new.jwks_file_contents.is_some() {
        return Err(AdminError::invalid(
            "give either --jwks-uri or --jwks-file, not both (RFC 7591 section 2)",
        ));
    }
    let has_keys = new.jwks_uri.is_some() || new.jwks_file_contents.is_some();
    let auth_method = match method_arg {
        Some(m) if new.public && m != AuthMethod::None => {
            return Err(AdminError::Invalid(format!(
                "--public conflicts with --auth-method {m}: a public client uses none"
            )));
        }
        Some(m) => m,
        None if new.public => AuthMethod::None,
        // Keys and no secret: the operator means private_key_jwt.
        None if has_keys && new.secret.is_none() => AuthMethod::PrivateKeyJwt,
        None => AuthMethod::ClientSecretBasic,
    };

    let exchange_policy = exchange::build(&new.exchange)?;
    if exchange_policy.is_some() && auth_method == AuthMethod::None {
        return Err(AdminError::invalid(exchange::PUBLIC_CLIENT));
    }

    let mut generated_secret = None;
    let mut secret_hash = None;
    let mut jwks = None;
    let mut jwks_uri = None;
    match auth_method {
        AuthMethod::None => {
            if new.secret.is_some() {
                return Err(AdminError::invalid(
                    "a public client has no secret; drop --secret or --public",
                ));
            }
            if has_keys {
                return Err(AdminError::invalid(
                    "a public client does not authenticate; --jwks-uri and --jwks-file need --auth-method private_key_jwt",
                ));
            }
            if grants.contains(&GrantType::ClientCredentials) {
                return Err(AdminError::invalid(
                    "a public client cannot use client_credentials: it has no credentials (RFC 6749 section 4.4)",
                ));
            }
            if new.no_pkce {
                return Err(AdminError::invalid(
                    "PKCE cannot be turned off for a public client (RFC 9700 section 2.1.1)",
                ));
            }
        }
        AuthMethod::PrivateKeyJwt => {
            if new.secret.is_some() {
                return Err(AdminError::invalid(
                    "a private_key_jwt client authenticates with its keys; drop --secret",
                ));
            }
            if let Some(text) = &new.jwks_file_contents {
                jwks = Some(validate_jwks(text)?);
            } else if let Some(uri) = &new.jwks_uri {
                jwks_uri = Some(parse_jwks_uri(uri)?);
            } else {
                return Err(AdminError::invalid(
                    "private_key_jwt needs the client's public keys: give --jwks-uri or --jwks-file",
                ));
            }
        }
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            if has_keys {
                return Err(AdminError::Invalid(format!(
                    "--jwks-uri and --jwks-file apply only to private_key_jwt, not {auth_method}"
                )));
            }
            let secret = match &new.secret {
                Some(s) => {
                    validate_secret(s)?;
                    s.clone()
                }
                None => {
                    let s = random_token();
                    generated_secret = Some(s.clone());
                    s
                }
            };
            secret_hash = Some(hasher.hash(&secret));
        }
    }
    if new.no_pkce && !has_code {
        return Err(AdminError::invalid(
            "--no-pkce applies only to the authorization_code grant",
        ));
    }
    if new.always_issue_refresh_token && !grants.contains(&GrantType::RefreshToken) {
        return Err(AdminError::invalid(
            "--always-issue-refresh-token needs the refresh_token grant",
        ));
    }

    let scope = if !requested_scope.is_empty() {
        requested_scope
    } else if has_code {
        let mut tokens = DEFAULT_USER_SCOPES.join(" ");
        if grants.contains(&GrantType::RefreshToken) {
            tokens.push_str(" offline_access");
        }
        Scope::parse(&tokens).expect("default scopes are valid")
    } else {
        Scope::default()
    };

    let client = Client {
        id,
        name,
        secret_hash,
        auth_method,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        backchannel_logout_session_required: new.backchannel_logout_session_required,
        grant_types: grants.into_iter().collect(),
        scope,
        audiences,
        jwks,
        jwks_uri,
        access_token_alg,
        id_token_alg,
        first_party: new.first_party,
        require_pkce: !new.no_pkce,
        always_issue_refresh_token: new.always_issue_refresh_token,
        require_two_factor: new.require_two_factor,
        exchange: exchange_policy,
        created_at: now,
    };
    Ok(CreatedClient {
        client,
        generated_secret,
    })
}

fn validate_secret(s: &str) -> Result<(), AdminError> {
    let len = s.chars().count();
    if len < MIN_SECRET_LEN {
        return Err(AdminError::Invalid(format!(
            "client secret must be at least {MIN_SECRET_LEN} characters (or omit --secret to have one generated)"
        )));
    }
    if len > MAX_SECRET_LEN {
        return Err(AdminError::Invalid(format!(
            "client secret must be at most {MAX_SECRET_LEN} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "client secret must not contain control characters",
        ));
    }
    Ok(())
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

/// Replaces the client's secret with a new generated one and returns it; the old secret
/// stops working at once. Refused for clients that have no secret.
pub async fn rotate_secret(store: &Store, id: &str) -> Result<String, AdminError> {
    let client = get(store, id).await?;
    match client.auth_method {
        AuthMethod::None => {
            return Err(AdminError::Invalid(format!(
                "client {} is a public client and has no secret to rotate",
                client.id
            )));
        }
        AuthMethod::PrivateKeyJwt => {
            return Err(AdminError::Invalid(format!(
                "client {} authenticates with private_key_jwt and has no secret to rotate; publish new keys at its JWKS instead",
                client.id
            )));
        }
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {}
    }
    let secret = random_token();
    let hash = store.secret_hasher().hash(&secret);
    if store.set_client_secret_hash(&client.id, &hash).await? {
        audit::Event::new(audit::Kind::ClientSecretRotated)
            .client(client.id.as_str())
            .actor(audit::ACTOR_CLI)
            .emit();
        Ok(secret)
    } else {
        Err(AdminError::NotFound(format!(
            "client {} does not exist",
            client.id
        )))
    }
}

/// Changes to a registered client's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub require_two_factor: Option<bool>,
}

/// Applies `update` to the client and returns it as stored afterwards.
pub async fn update(store: &Store, id: &str, update: &ClientUpdate) -> Result<Client, AdminError> {
    let client = get(store, id).await?;
    let Some(require) = update.require_two_factor else {
        return Err(AdminError::invalid("nothing to change"));
    };
    if !store
        .set_client_require_two_factor(&client.id, require)
        .await?
    {
        return Err(AdminError::NotFound(format!(
            "client {} does not exist",
            client.id
        )));
    }
    audit::Event::new(audit::Kind::ClientUpdated)
        .client(client.id.as_str())
        .actor(audit::ACTOR_CLI)
        .reason(if require {
            "require_two_factor on"
        } else {
            "require_two_factor off"
        })
        .emit();
    get(store, id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::store::test_support::sqlite_store;

    fn hasher() -> SecretHasher {
        SecretHasher::new(&MasterKey::from_bytes([9; 32]))
    }

    fn web() -> NewClient {
        NewClient {
            id: "web".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..NewClient::default()
        }
    }

    fn invalid(new: NewClient) -> String {
        match build(new, &hasher(), 0) {
            Err(AdminError::Invalid(msg)) => msg,
            Err(other) => panic!("expected Invalid, got {other:?}"),
            Ok(c) => panic!("expected Invalid, got client {:?}", c.client.id),
        }
    }

    #[test]
    fn confidential_web_client_gets_defaults_and_a_generated_secret() {
        let created = build(web(), &hasher(), 42).unwrap();
        let c = &created.client;
        assert_eq!(c.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(
            c.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(c.scope.to_string(), "email offline_access openid profile");
        assert!(c.require_pkce);
        assert_eq!(c.name, "web");
        let secret = created.generated_secret.as_deref().expect("generated");
        assert!(secret.len() >= 43);
        assert!(hasher().verify(secret, c.secret_hash.as_deref().unwrap()));
    }

    #[test]
    fn service_client_defaults_to_client_credentials_with_no_scope() {
        let c = build(
            NewClient {
                id: "svc".into(),
                secret: Some("a-long-enough-secret".into()),
                ..NewClient::default()
            },
            &hasher(),
            0,
        )
        .unwrap();
        assert_eq!(c.client.grant_types, vec![GrantType::ClientCredentials]);
        assert!(c.client.scope.is_empty());
        assert!(c.generated_secret.is_none());
        assert!(hasher().verify(
            "a-long-enough-secret",
            c.client.secret_hash.as_deref().unwrap()
        ));
    }

    #[test]
    fn logout_uris_are_checked() {
        let mut n = web();
        n.post_logout_redirect_uris = vec!["https://app.example.com/bye".into(); 2];
        n.backchannel_logout_uri = Some("https://app.example.com/bc".into());
        let c = build(n, &hasher(), 0).unwrap().client;
        assert_eq!(c.post_logout_redirect_uris.len(), 1, "repeats dropped");
        assert_eq!(
            c.backchannel_logout_uri.as_ref().map(Url::as_str),
            Some("https://app.example.com/bc")
        );
        for bad in [
            "http://app.example.com/bc",
            "https://169.254.169.254/latest",
            "https://app.example.com/bc#x",
            "not a url",
        ] {
            let mut n = web();
            n.backchannel_logout_uri = Some(bad.into());
            assert!(invalid(n).contains("backchannel_logout_uri"), "{bad}");
        }
        let mut n = web();
        n.post_logout_redirect_uris = vec!["https://app.example.com/bye#f".into()];
        invalid(n);
        let service = NewClient {
            id: "svc".into(),
            backchannel_logout_uri: Some("https://app.example.com/bc".into()),
            ..NewClient::default()
        };
        assert!(invalid(service).contains("back-channel"));
    }

    #[test]
    fn scopes_may_be_repeated_and_space_separated() {
        let mut n = web();
        n.scopes = vec!["openid email".into(), "orders:read".into()];
        let c = build(n, &hasher(), 0).unwrap().client;
        assert_eq!(c.scope.to_string(), "email openid orders:read");
    }

    #[test]
    fn public_client_has_no_secret_and_requires_pkce() {
        let mut n = web();
        n.public = true;
        let c = build(n, &hasher(), 0).unwrap();
        assert_eq!(c.client.auth_method, AuthMethod::None);
        assert!(c.client.secret_hash.is_none());
        assert!(c.generated_secret.is_none());

        let mut n = web();
        n.public = true;
        n.secret = Some("a-long-enough-secret".into());
        assert!(invalid(n).contains("no secret"));

        let mut n = web();
        n.public = true;
        n.no_pkce = true;
        assert!(invalid(n).contains("PKCE"));

        let mut n = web();
        n.public = true;
        n.grant_types = vec!["authorization_code".into(), "client_credentials".into()];
        assert!(invalid(n).contains("client_credentials"));

        let n = NewClient {
            id: "spa".into(),
            public: true,
            ..NewClient::default()
        };
        assert!(invalid(n).contains("--redirect-uri"));
    }

    #[test]
    fn rejects_bad_input_with_one_line_messages() {
        let cases: Vec<(NewClient, &str)> = vec![
            (
                NewClient {
                    redirect_uris: vec!["https://app.example.com/cb#frag".into()],
                    ..web()
                },
                "fragment",
            ),
            (
                NewClient {
                    redirect_uris: vec!["http://app.example.com/cb".into()],
                    ..web()
                },
                "http",
            ),
            (
                NewClient {
                    grant_types: vec!["password".into()],
                    ..web()
                },
                "unknown grant type",
            ),
            (
                NewClient {
                    scopes: vec!["bad\"scope".into()],
                    ..web()
                },
                "scope",
            ),
            (
                NewClient {
                    secret: Some("short".into()),
                    ..web()
                },
                "at least 16",
            ),
            (
                NewClient {
                    id: "a:b".into(),
                    ..web()
                },
                "client id",
            ),
            (
                NewClient {
                    grant_types: vec!["authorization_code".into()],
                    redirect_uris: vec![],
                    ..web()
                },
                "redirect-uri",
            ),
            (
                NewClient {
                    grant_types: vec!["client_credentials".into()],
                    ..web()
                },
                "redirect URIs",
            ),
            (
                NewClient {
                    grant_types: vec!["refresh_token".into(), "client_credentials".into()],
                    redirect_uris: vec![],
                    ..web()
                },
                "refresh_token",
            ),
            (
                NewClient {
                    auth_method: Some("private_key_jwt".into()),
                    ..web()
                },
                "--jwks-uri",
            ),
            (
                NewClient {
                    auth_method: Some("private_key_jwt".into()),
                    jwks_uri: Some("http://keys.example.com/jwks".into()),
                    ..web()
                },
                "https",
            ),
            (
                NewClient {
                    auth_method: Some("client_secret_post".into()),
                    jwks_uri: Some("https://keys.example.com/jwks".into()),
                    ..web()
                },
                "only to private_key_jwt",
            ),
            (
                NewClient {
                    audiences: vec!["not a uri".into()],
                    ..web()
                },
                "resource",
            ),
            (
                NewClient {
                    access_token_alg: Some("HS256".into()),
                    ..web()
                },
                "algorithm",
            ),
            (
                NewClient {
                    auth_method: Some("client_secret_jwt".into()),
                    ..web()
                },
                "authentication method",
            ),
        ];
        for (n, needle) in cases {
            let msg = invalid(n);
            assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }

    #[test]
    fn private_key_jwt_is_inferred_from_keys_without_a_secret() {
        let n = NewClient {
            id: "svc".into(),
            jwks_uri: Some("https://svc.example.com/jwks.json".into()),
            ..NewClient::default()
        };
        let c = build(n, &hasher(), 0).unwrap();
        assert_eq!(c.client.auth_method, AuthMethod::PrivateKeyJwt);
        assert!(c.client.secret_hash.is_none());
        assert!(c.generated_secret.is_none());
        assert_eq!(
            c.client.jwks_uri.unwrap().as_str(),
            "https://svc.example.com/jwks.json"
        );
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
    async fn rotate_secret_invalidates_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let old = create(&store, web())
            .await
            .unwrap()
            .generated_secret
            .unwrap();
        let new = rotate_secret(&store, "web").await.unwrap();
        let hash = get(&store, "web").await.unwrap().secret_hash.unwrap();
        assert!(store.secret_hasher().verify(&new, &hash));
        assert!(!store.secret_hasher().verify(&old, &hash));

        let mut public = web();
        public.id = "spa".into();
        public.public = true;
        create(&store, public).await.unwrap();
        assert!(matches!(
            rotate_secret(&store, "spa").await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            rotate_secret(&store, "nope").await,
            Err(AdminError::NotFound(_))
        ));
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
