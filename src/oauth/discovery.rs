//! Authorization server metadata (RFC 8414 section 2) and OpenID Provider metadata (OpenID
//! Connect Discovery 1.0 section 3). Lists exactly what is implemented.
use serde_json::{Value, json};

use super::Provider;
use crate::domain::{AuthMethod, GrantType, SigningAlg};

/// Algorithms accepted on `private_key_jwt` client assertions (see `keys::jws`).
pub const CLIENT_ASSERTION_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "Ed25519",
];

pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

pub const SUPPORTED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "amr",
    "nonce",
    "at_hash",
    "azp",
    "name",
    "preferred_username",
    "email",
    "email_verified",
];

impl Provider {
    pub fn metadata(&self) -> Value {
        let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
        let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        let confidential_methods: Vec<&str> = AuthMethod::ALL
            .iter()
            .filter(|m| **m != AuthMethod::None)
            .map(|m| m.as_str())
            .collect();
        let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
        json!({
            "issuer": self.issuer(),
            "authorization_endpoint": self.endpoint("/authorize"),
            "token_endpoint": self.endpoint("/token"),
            "userinfo_endpoint": self.endpoint("/userinfo"),
            // OpenID Connect RP-Initiated Logout 1.0 section 2.1.
            "end_session_endpoint": self.endpoint("/logout"),
            "frontchannel_logout_supported": false,
            // OpenID Connect Back-Channel Logout 1.0 section 2.1.
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "jwks_uri": self.endpoint("/jwks"),
            "introspection_endpoint": self.endpoint("/introspect"),
            "revocation_endpoint": self.endpoint("/revoke"),
            "scopes_supported": SUPPORTED_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grants,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
            "introspection_endpoint_auth_methods_supported": confidential_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": SUPPORTED_CLAIMS,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "prompt_values_supported": ["none", "login", "consent"],
            "ui_locales_supported": crate::i18n::LANGUAGES,
        })
    }
}
