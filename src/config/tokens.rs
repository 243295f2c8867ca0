//! `[tokens]`: lifetimes of tokens, codes and sessions, and the background intervals that
//! follow them.
use serde::{Deserialize, Serialize};

use crate::domain::SigningAlg;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// Lifetime of a token issued by token exchange (RFC 8693), seconds; never more than
    /// `access_token_ttl` nor the subject token's remaining life.
    pub exchanged_token_ttl: u64,
    /// Default JWS algorithm for access tokens; a client may override it.
    pub access_token_alg: SigningAlg,
    /// `aud` of access tokens when the request names no `resource`; the issuer when unset.
    pub default_audience: Option<String>,
    /// Authorization code lifetime, seconds.
    pub authorization_code_ttl: u64,
    /// ID token lifetime, seconds.
    pub id_token_ttl: u64,
    /// Refresh token lifetime, seconds (sliding: each rotation starts a new period).
    pub refresh_token_ttl: u64,
    /// Seconds after a refresh token is rotated during which the same token may be used
    /// again (concurrent refreshes) without the whole family being revoked.
    pub refresh_token_grace: u64,
    /// Longest accepted lifetime of a `private_key_jwt` assertion, seconds.
    pub client_assertion_max_lifetime: u64,
    /// Allowed clock skew for assertions from clients, seconds.
    pub clock_skew: u64,
    /// Lifetime of a sign-in session at Latchkey, seconds.
    pub session_ttl: u64,
    /// How long a login or consent page stays valid, seconds.
    pub interaction_ttl: u64,
    /// How often each node deletes expired sessions, codes, refresh tokens and revocation
    /// records, seconds.
    pub purge_interval: u64,
    /// How often each node looks for back-channel logouts queued by another process (the
    /// `users set-password` and `users delete` commands, a node that stopped), seconds.
    /// Sign-outs on a node are delivered at once.
    pub logout_outbox_interval: u64,
}
