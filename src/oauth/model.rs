//! Protocol-level records: what the core reads from and hands to storage.
use url::Url;

use super::authn;

use crate::domain::{AuthMethod, ClientId, GrantType, RedirectUri, ResourceUri, Scope, SigningAlg};

/// A registered client (RFC 6749 section 2, RFC 7591 section 2 metadata names).
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// Keyed hash of the client secret (`crypto::SecretHasher`); `None` for public and
    /// `private_key_jwt` clients.
    pub secret_hash: Option<String>,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-Initiated Logout may send the browser afterwards (OpenID Connect
    /// RP-Initiated Logout 1.0 section 3.1), matched exactly.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// OpenID Connect Back-Channel Logout 1.0 section 2.2: where logout tokens are posted.
    pub backchannel_logout_uri: Option<Url>,
    /// The client needs `sid` in logout tokens (they always carry it here).
    pub backchannel_logout_session_required: bool,
    pub grant_types: Vec<GrantType>,
    /// The scopes this client may be granted.
    pub scope: Scope,
    /// Resource indicators (RFC 8707) this client may ask for; empty means any.
    pub audiences: Vec<ResourceUri>,
    /// The client's public keys for `private_key_jwt`, as a JWK Set document.
    pub jwks: Option<String>,
    pub jwks_uri: Option<Url>,
    pub access_token_alg: Option<SigningAlg>,
    pub id_token_alg: Option<SigningAlg>,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// PKCE is required unless this is cleared (legacy confidential clients only).
    pub require_pkce: bool,
    /// Issue refresh tokens even when `offline_access` was not granted (for clients that
    /// keep sessions longer than an access token lives).
    pub always_issue_refresh_token: bool,
    /// People must sign in with two factors to get a code for this client (on top of the
    /// global `login.require_two_factor`).
    pub require_two_factor: bool,
    /// What this client may obtain by token exchange (RFC 8693); `None`: no token exchange.
    pub exchange: Option<ExchangePolicy>,
    pub created_at: i64,
}

/// A client's token exchange policy (RFC 8693): whose subject tokens it may present, the
/// downstream audiences it may ask for, the scopes it may pass on (narrowed further by the
/// subject token's), and whether it may impersonate, that is receive a token without an
/// `act` claim naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangePolicy {
    /// `audience` values or `resource` URIs, compared exactly; never empty.
    pub audiences: Vec<String>,
    pub scope: Scope,
    pub may_impersonate: bool,
    /// Issuers whose access tokens the client may present as subject tokens: this server's
    /// issuer and `token_exchange.trusted_issuers` entries, compared exactly. Empty: this
    /// server's own tokens only.
    pub subject_issuers: Vec<String>,
}

impl ExchangePolicy {
    /// Longest `audience` value accepted in a policy or a request.
    pub const MAX_AUDIENCE_LEN: usize = 512;

    /// An audience is a logical name or a URI (RFC 8693 section 2.1): 1 to 512 characters
    /// of visible ASCII.
    pub fn validate_audience(a: &str) -> Result<(), String> {
        if a.is_empty() || a.len() > Self::MAX_AUDIENCE_LEN {
            return Err(format!(
                "an audience must have 1 to {} characters",
                Self::MAX_AUDIENCE_LEN
            ));
        }
        if !a.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("an audience must be visible ASCII without spaces".into());
        }
        Ok(())
    }

    /// Whether the client may present a subject token issued by `iss`; `own` is this
    /// server's issuer.
    pub fn accepts_issuer(&self, iss: &str, own: &str) -> bool {
        if self.subject_issuers.is_empty() {
            return iss == own;
        }
        self.subject_issuers.iter().any(|i| i == iss)
    }

    /// An issuer identifier (RFC 8414 section 2; RFC 9068 `iss`): like an audience, 1 to 512
    /// characters of visible ASCII.
    pub fn validate_issuer(i: &str) -> Result<(), String> {
        Self::validate_audience(i).map_err(|_| {
            format!(
                "an issuer must have 1 to {} characters of visible ASCII",
                Self::MAX_AUDIENCE_LEN
            )
        })
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }
}

/// A person who can sign in. `id` is the OpenID Connect `sub`: random, stable, never reused.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// A user found for a password sign-in, with what the two-factor hook asks next: whether
/// they have a confirmed authenticator (one query for both).
#[derive(Debug, Clone)]
pub struct SignInUser {
    pub user: User,
    pub has_authenticator: bool,
}

/// A browser session at Latchkey (not at the client). Looked up by the keyed hash of the
/// cookie value, so a database dump does not yield usable session cookies.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
    /// How the person signed in: the `amr` claim (`authn::amr`), `mfa` included.
    pub amr: Vec<authn::AuthMethod>,
    pub created_at: i64,
    /// When a request last came with this session (updated at most once a minute).
    pub last_seen_at: i64,
    /// A short label of the browser and system it was started from ("Firefox on Linux").
    pub device: Option<String>,
    /// The address it was started from.
    pub source_ip: Option<String>,
}

/// One authorization of a client by a user: the root of a code, the tokens issued from it
/// and its refresh-token family. Revoking it revokes all of them.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The `sid` of the browser session the grant was made in (`Provider::session_sid`).
    pub sid: Option<String>,
    /// The `amr` of the sign-in the grant was made in: ID tokens from its code and from its
    /// refreshes carry it. (An `acr` of the sign-in would be kept beside it.)
    pub amr: Vec<authn::AuthMethod>,
}

/// An authorization code (RFC 6749 section 4.1.2), stored by keyed hash.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    /// The `redirect_uri` sent in the authorization request; empty when it was omitted.
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// The sign-in the code came from, as on its grant (`Grant::sid`, `Grant::amr`): the
    /// exchange reads the code alone.
    pub sid: Option<String>,
    pub amr: Vec<authn::AuthMethod>,
}

/// A refresh token (RFC 6749 section 6), stored by keyed hash.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it was exchanged for a new one; it stays usable for the grace window after.
    pub rotated_at: Option<i64>,
}

/// A registered passkey (WebAuthn credential).
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: String,
    pub user_id: String,
    /// base64url of the credential id.
    pub credential_id: String,
    /// base64url of the user handle the credential was created with.
    pub user_handle: String,
    /// The credential as the WebAuthn library serialises it (public key, sign counter).
    pub credential: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony in progress: the server's half (challenge, policy), kept until the
/// browser answers and used once.
#[derive(Debug, Clone)]
pub struct PasskeyCeremony {
    /// Keyed hash of the random id held in the browser's cookie.
    pub id_hash: String,
    pub kind: String,
    /// The user registering a passkey, or the user a second-factor check is for.
    pub user_id: Option<String>,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}
