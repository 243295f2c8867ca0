//! The issuer's public keys: discovery, then the JWKS, cached for the `Cache-Control: max-age`
//! the server sends (within bounds), refetched on an unknown `kid` at most once per
//! `refetch_interval`. Concurrent misses wait on one fetch instead of each making their own.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use crate::{Alg, VerifierConfig, VerifyError};

/// A published key: what it may verify and the key itself.
#[derive(Clone)]
pub(crate) struct Key {
    pub alg: Alg,
    pub key: DecodingKey,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Key>,
    fresh_until: Option<Instant>,
}

pub(crate) struct KeyCache {
    config: VerifierConfig,
    http: reqwest::Client,
    cached: RwLock<Cached>,
    /// Held while fetching; holds the time of the last fetch attempt.
    fetch: Mutex<Option<Instant>>,
    jwks_uri: Mutex<Option<String>>,
    fetches: AtomicU64,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyCache {
    pub fn new(config: VerifierConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            cached: RwLock::default(),
            fetch: Mutex::new(None),
            jwks_uri: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key for `kid`, fetching the JWKS when the cache is stale or lacks it.
    pub async fn get(&self, kid: &str) -> Result<Key, VerifyError> {
        {
            let c = self.cached.read().await;
            let fresh = c.fresh_until.is_some_and(|t| Instant::now() < t);
            if let (Some(k), true) = (c.keys.get(kid), fresh) {
                return Ok(k.clone());
            }
        }
        let mut last = self.fetch.lock().await;
        // Another caller may have fetched while this one waited.
        {
            let c = self.cached.read().await;
            let fresh = c.fresh_until.is_some_and(|t| Instant::now() < t);
            match c.keys.get(kid) {
                Some(k) if fresh => return Ok(k.clone()),
                Some(_) | None
                    if last.is_some_and(|t| t.elapsed() < self.config.refetch_interval) =>
                {
                    // Rate limited: use what is cached, even if stale.
                    return c.keys.get(kid).cloned().ok_or(VerifyError::UnknownKey);
                }
                _ => {}
            }
        }
        *last = Some(Instant::now());
        match self.refresh().await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "fetching the issuer's keys failed");
                // Keep serving the keys already known rather than failing every request.
                let c = self.cached.read().await;
                return match c.keys.get(kid) {
                    Some(k) => Ok(k.clone()),
                    None if c.keys.is_empty() => Err(e),
                    None => Err(VerifyError::UnknownKey),
                };
            }
        }
        let c = self.cached.read().await;
        c.keys.get(kid).cloned().ok_or(VerifyError::UnknownKey)
    }

    async fn refresh(&self) -> Result<(), VerifyError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let jwks_uri = self.jwks_uri().await?;
        let resp = self
            .http
            .get(&jwks_uri)
            .timeout(self.config.http_timeout)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(unavailable)?;
        let cache_control = resp
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = resp.json().await.map_err(unavailable)?;
        let keys = parse_jwks(&body, &self.config.algorithms);
        let lifetime = self.config.cache_lifetime(cache_control.as_deref());
        let mut c = self.cached.write().await;
        c.keys = keys;
        c.fresh_until = Some(Instant::now() + lifetime);
        Ok(())
    }

    async fn jwks_uri(&self) -> Result<String, VerifyError> {
        let mut uri = self.jwks_uri.lock().await;
        if let Some(u) = uri.as_ref() {
            return Ok(u.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let d: Discovery = self
            .http
            .get(&url)
            .timeout(self.config.http_timeout)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        if d.issuer != self.config.issuer {
            return Err(VerifyError::KeysUnavailable(format!(
                "discovery names issuer {:?}, expected {:?}",
                d.issuer, self.config.issuer
            )));
        }
        *uri = Some(d.jwks_uri.clone());
        Ok(d.jwks_uri)
    }
}

fn unavailable(e: reqwest::Error) -> VerifyError {
    VerifyError::KeysUnavailable(e.without_url().to_string())
}

/// The usable signing keys of a JWKS, by `kid`. Keys without a `kid`, for encryption, of an
/// unsupported type, or whose `alg` disagrees with their `kty`/`crv` are skipped.
fn parse_jwks(body: &Value, allowed: &[Alg]) -> HashMap<String, Key> {
    let Some(keys) = body.get("keys").and_then(Value::as_array) else {
        return HashMap::new();
    };
    keys.iter()
        .filter_map(|k| {
            let jwk: Jwk = serde_json::from_value(k.clone()).ok()?;
            let kid = jwk.common.key_id.clone()?;
            if k.get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
            {
                return None;
            }
            let alg = key_alg(&jwk)?;
            if !allowed.contains(&alg) {
                return None;
            }
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some((kid, Key { alg, key }))
        })
        .collect()
}

/// The one algorithm a JWK may verify: from its `kty`/`crv`, and its `alg` must agree.
fn key_alg(jwk: &Jwk) -> Option<Alg> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Alg::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Alg::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Alg::EdDSA,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Alg::RS256 => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Alg::ES256 => Some(by_type),
        Some(KeyAlgorithm::EdDSA) if by_type == Alg::EdDSA => Some(by_type),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_whose_alg_disagrees_with_their_type_are_skipped() {
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let mut lying = ed.clone();
        lying["kid"] = json!("lying");
        lying["alg"] = json!("RS256");
        let mut hmac = json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"});
        hmac["alg"] = json!("HS256");
        let mut enc = ed.clone();
        enc["kid"] = json!("enc");
        enc["use"] = json!("enc");
        let all = [Alg::RS256, Alg::ES256, Alg::EdDSA];
        let keys = parse_jwks(&json!({"keys": [ed, lying, hmac, enc]}), &all);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ed"]);
        assert_eq!(keys["ed"].alg, Alg::EdDSA);
        assert!(
            parse_jwks(
                &json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}),
                &[Alg::RS256]
            )
            .is_empty()
        );
    }
}
