//! ID tokens (OpenID Connect Core section 2 and 3.1.3.6) and the user claims that scopes
//! release (section 5.4).
use aws_lc_rs::digest;
use serde_json::{Map, Value, json};

use super::authn::AuthMethod;
use super::error::OAuthResult;
use super::model::{Client, User};
use super::{Provider, now};
use crate::crypto::b64url;
use crate::domain::{Scope, SigningAlg};

pub struct IdTokenInput<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub scope: &'a Scope,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// The session the grant was made in (OpenID Connect Back-Channel Logout 1.0 section 2.1).
    pub sid: Option<&'a str>,
    /// How the person signed in (OpenID Connect Core section 2, RFC 8176). An `acr` would be
    /// passed beside it.
    pub amr: &'a [AuthMethod],
    pub access_token: &'a str,
}

impl Provider {
    pub fn issue_id_token(&self, i: IdTokenInput<'_>) -> OAuthResult<String> {
        let alg = i.client.id_token_alg.unwrap_or(SigningAlg::RS256);
        let iat = now();
        let mut claims = json!({
            "iss": self.issuer(),
            "sub": i.user.id,
            "aud": i.client.id.as_str(),
            "exp": iat + self.settings.tokens.id_token_ttl as i64,
            "iat": iat,
            "auth_time": i.auth_time,
            "azp": i.client.id.as_str(),
            "at_hash": token_hash(alg, i.access_token),
        });
        if let Some(n) = i.nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(sid) = i.sid {
            claims["sid"] = json!(sid);
        }
        if !i.amr.is_empty() {
            let amr: Vec<&str> = i.amr.iter().map(|m| m.as_str()).collect();
            claims["amr"] = json!(amr);
        }
        if let Value::Object(extra) = user_claims(i.user, i.scope)
            && let Value::Object(map) = &mut claims
        {
            for (k, v) in extra {
                map.entry(k).or_insert(v);
            }
        }
        Ok(self.keys.sign(alg, "JWT", &claims)?)
    }
}

/// `at_hash` (OpenID Connect Core section 3.1.3.6): the left half of the hash of the token,
/// with the hash of the signing algorithm (SHA-512 for Ed25519, as the `EdDSA` convention).
pub fn token_hash(alg: SigningAlg, token: &str) -> String {
    let algorithm = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => &digest::SHA256,
        SigningAlg::EdDSA => &digest::SHA512,
    };
    let d = digest::digest(algorithm, token.as_bytes());
    let bytes = d.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

/// The claims the granted scopes release (section 5.4): `sub` always; `profile` gives name
/// and preferred_username; `email` gives email and email_verified.
pub fn user_claims(user: &User, scope: &Scope) -> Value {
    let mut m = Map::new();
    m.insert("sub".into(), json!(user.id));
    if scope.contains("profile") {
        m.insert("preferred_username".into(), json!(user.username));
        if let Some(n) = &user.name {
            m.insert("name".into(), json!(n));
        }
    }
    if scope.contains("email")
        && let Some(e) = &user.email
    {
        m.insert("email".into(), json!(e));
        m.insert("email_verified".into(), json!(user.email_verified));
    }
    Value::Object(m)
}
