//! The protocol core: request parsing, client authentication, grants, token issuance,
//! introspection and revocation. It must not import axum, askama or sea-orm: it talks to
//! storage only through `ports`, and to keys through `keys::KeyRing`.
pub mod access_token;
pub mod account;
pub mod authn;
pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod forward_auth;
pub mod grants;
pub mod id_token;
pub mod interaction;
pub mod introspect;
pub mod model;
pub mod params;
pub mod passkeys;
pub mod pkce;
pub mod ports;
pub mod revoke;
mod session_end;
pub mod signin;
pub mod throttle;
pub mod token;
pub mod two_factor;
pub mod userinfo;

use std::sync::Arc;

use bytes::Bytes;

use crate::config::Settings;
use crate::crypto::{PasswordHasher, Sealer, SecretHasher};
use crate::keys::{KeyRing, OutboundPolicy, RemoteJwksCache};
use crate::metrics::Metrics;

pub use error::{OAuthError, OAuthResult};
pub use params::Params;

/// Everything the protocol needs, built once at start and shared by all requests.
pub struct Provider {
    pub settings: Arc<Settings>,
    pub clients: Arc<dyn ports::ClientRepository>,
    pub replay: Arc<dyn ports::AssertionReplayCache>,
    pub revocations: Arc<dyn ports::AccessTokenRevocations>,
    pub users: Arc<dyn ports::UserRepository>,
    pub sessions: Arc<dyn ports::SessionRepository>,
    pub consents: Arc<dyn ports::ConsentRepository>,
    pub grants: Arc<dyn ports::GrantRepository>,
    pub login_throttle: Arc<dyn ports::LoginThrottle>,
    pub two_factor: Arc<dyn ports::TwoFactorRepository>,
    pub accounts: Arc<dyn ports::AccountRepository>,
    pub keys: Arc<KeyRing>,
    pub passwords: PasswordHasher,
    /// The discovery document, serialised once.
    metadata_json: Bytes,
    pub remote_jwks: Arc<RemoteJwksCache>,
    /// Sends back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0).
    pub logout_delivery: backchannel::LogoutDelivery,
    pub hasher: SecretHasher,
    /// Seals authenticator secrets at rest (the master key's sealing subkey).
    pub sealer: Sealer,
    /// Counters of this server (sign-ins, tokens); `/metrics` renders them.
    pub metrics: Arc<Metrics>,
    /// This node's memory of client-authentication lock states (`throttle`).
    client_lock_states: throttle::LockStateCache,
    issuer: String,
    /// The WebAuthn relying party; `None` when passkeys are off.
    passkeys: Option<passkeys::RelyingParty>,
}

/// The storage implementations a `Provider` needs.
pub struct Ports {
    pub clients: Arc<dyn ports::ClientRepository>,
    pub replay: Arc<dyn ports::AssertionReplayCache>,
    pub revocations: Arc<dyn ports::AccessTokenRevocations>,
    pub users: Arc<dyn ports::UserRepository>,
    pub sessions: Arc<dyn ports::SessionRepository>,
    pub consents: Arc<dyn ports::ConsentRepository>,
    pub grants: Arc<dyn ports::GrantRepository>,
    pub login_throttle: Arc<dyn ports::LoginThrottle>,
    pub two_factor: Arc<dyn ports::TwoFactorRepository>,
    pub accounts: Arc<dyn ports::AccountRepository>,
}

impl Provider {
    pub fn new(
        settings: Arc<Settings>,
        ports: Ports,
        keys: Arc<KeyRing>,
        hasher: SecretHasher,
        sealer: Sealer,
    ) -> Self {
        let issuer = settings.issuer_str();
        let settings_allowed = settings.keys.client_jwks_allowed_networks.clone();
        let outbound = OutboundPolicy {
            allowed: settings_allowed.clone(),
        };
        let remote_jwks = RemoteJwksCache::with_policy(outbound).with_min_refetch(
            std::time::Duration::from_secs(settings.keys.client_jwks_min_refetch),
        );
        let mut provider = Self {
            settings,
            clients: ports.clients,
            replay: ports.replay,
            revocations: ports.revocations,
            users: ports.users,
            sessions: ports.sessions,
            consents: ports.consents,
            grants: ports.grants,
            login_throttle: ports.login_throttle,
            two_factor: ports.two_factor,
            accounts: ports.accounts,
            keys,
            passwords: PasswordHasher::default(),
            metadata_json: Bytes::new(),
            remote_jwks: Arc::new(remote_jwks),
            logout_delivery: backchannel::LogoutDelivery::new(OutboundPolicy {
                allowed: settings_allowed,
            }),
            hasher,
            sealer,
            metrics: Arc::new(Metrics::new()),
            client_lock_states: throttle::LockStateCache::default(),
            issuer,
            passkeys: None,
        };
        provider.metadata_json = Bytes::from(provider.metadata().to_string());
        provider
    }

    /// Turns passkeys on with this relying party (`passkeys::RelyingParty::from_settings`).
    pub fn with_passkeys(mut self, rp: Option<passkeys::RelyingParty>) -> Self {
        self.passkeys = rp;
        self
    }

    /// The discovery document (RFC 8414, OpenID Connect Discovery) as JSON text.
    pub fn metadata_json(&self) -> Bytes {
        self.metadata_json.clone()
    }

    /// The issuer identifier, exactly as it appears in `iss` claims and discovery.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
