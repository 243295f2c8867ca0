//! `latchkey-verify`: checks Latchkey access tokens (RFC 9068 JWTs) inside a Rust service,
//! without a call to the server per request.
//!
//! ```no_run
//! # async fn run() -> Result<(), latchkey_verify::VerifyError> {
//! use latchkey_verify::{Verifier, VerifierConfig};
//! let verifier = Verifier::new(VerifierConfig::new("https://id.example.com", "orders-api"));
//! let claims = verifier.verify("eyJ...").await?;
//! claims.require_scopes(&["orders:read"])?;
//! # Ok(()) }
//! ```
//!
//! With the default `axum` feature, [`RequireBearer`] is a tower layer and [`Authenticated`]
//! an extractor; both answer failures per RFC 6750.
mod claims;
mod config;
mod error;
mod keys;
#[cfg(feature = "axum")]
mod web;

use std::sync::Arc;

pub use claims::Claims;
pub use config::VerifierConfig;
pub use error::VerifyError;
#[cfg(feature = "axum")]
pub use web::{Authenticated, RequireBearer, RequireBearerService};

use keys::KeyCache;

/// The signature algorithms a Latchkey server signs access tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    fn from_header(a: jsonwebtoken::Algorithm) -> Option<Self> {
        match a {
            jsonwebtoken::Algorithm::RS256 => Some(Self::RS256),
            jsonwebtoken::Algorithm::ES256 => Some(Self::ES256),
            jsonwebtoken::Algorithm::EdDSA => Some(Self::EdDSA),
            _ => None,
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// Checks access tokens of one issuer for one audience. Cheap to clone (shared key cache).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: VerifierConfig,
    keys: KeyCache,
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Self {
        Self::with_http_client(config, reqwest::Client::new())
    }

    /// With the service's own HTTP client (proxies, root certificates).
    pub fn with_http_client(mut config: VerifierConfig, http: reqwest::Client) -> Self {
        config.leeway = config.leeway.min(config::MAX_LEEWAY);
        let keys = KeyCache::new(config.clone(), http);
        Self {
            inner: Arc::new(Inner { config, keys }),
        }
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.inner.config
    }

    /// How many times the JWKS has been fetched (for metrics).
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.keys.fetches()
    }

    /// Verifies signature, `typ`, `iss`, `aud`, `exp` and `nbf`. Scopes are checked by the
    /// caller with [`Claims::require_scopes`].
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let typ = header.typ.as_deref().unwrap_or_default();
        if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(VerifyError::WrongType);
        }
        let alg = Alg::from_header(header.alg)
            .filter(|a| self.inner.config.algorithms.contains(a))
            .ok_or(VerifyError::DisallowedAlgorithm)?;
        let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
        let key = self.inner.keys.get(kid).await?;
        if key.alg != alg {
            return Err(VerifyError::DisallowedAlgorithm);
        }
        // Signature only here; the claims are checked below with this crate's errors.
        let mut v = jsonwebtoken::Validation::new(alg.jwt());
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &v).map_err(|e| match e
                .kind()
            {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
                _ => VerifyError::Malformed,
            })?;
        Claims::check(data.claims, &self.inner.config, now())
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_unreachable_issuer_means_keys_unavailable_not_a_bad_token() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = VerifierConfig::new(format!("http://127.0.0.1:{port}"), "orders");
        c.http_timeout = Duration::from_secs(2);
        let v = Verifier::new(c);
        // {"alg":"RS256","typ":"at+jwt","kid":"k"} . {} . "sig"
        let token = "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImsifQ.e30.c2ln";
        let err = v.verify(token).await.unwrap_err();
        assert!(matches!(err, VerifyError::KeysUnavailable(_)), "{err:?}");
        assert_eq!(err.status(), 503);
        assert_eq!(err.www_authenticate("orders"), None);
        assert_eq!(v.jwks_fetches(), 1);
    }
}
