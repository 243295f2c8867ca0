//! Clients' JWK Sets fetched from their `jwks_uri` (RFC 7591 section 2; OpenID Connect Core
//! section 10.1.1), cached per URI for five minutes. A forced refresh (after a token named an
//! unknown kid) fetches again at most once per ten seconds per URI, so a stream of tokens
//! with made-up kids cannot make this server hammer a client's endpoint. Failures are cached
//! for those ten seconds too.
//!
//! Like all of `keys/`, this must not import axum or sea_orm.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use url::Url;

use super::jwk::{JwkSet, parse_jwks};
use super::jws::KeyError;
use super::outbound::{OutboundPolicy, guarded_client};

const TTL: Duration = Duration::from_secs(5 * 60);
const MIN_REFETCH: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 256 * 1024;
/// Above this many cached URIs, stale entries are pruned when a new URI is added.
const PRUNE_ABOVE: usize = 1024;

struct Fetched {
    at: Instant,
    result: Result<Arc<JwkSet>, KeyError>,
}

/// One URI's cache entry; its async lock also makes concurrent fetches of the URI one fetch.
type Slot = Arc<tokio::sync::Mutex<Option<Fetched>>>;

pub struct RemoteJwksCache {
    http: reqwest::Client,
    slots: Mutex<HashMap<String, Slot>>,
    policy: Arc<OutboundPolicy>,
    ttl: Duration,
    min_refetch: Duration,
}

impl Default for RemoteJwksCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RemoteJwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwksCache").finish_non_exhaustive()
    }
}

impl RemoteJwksCache {
    /// A cache with its own HTTP client: 5 s timeout, no redirects (a JWKS URI is registered
    /// exactly; following redirects would let it point anywhere).
    pub fn new() -> Self {
        Self::with_policy(OutboundPolicy::default())
    }

    /// A cache whose fetches connect only where `policy` allows (`outbound`).
    pub fn with_policy(policy: OutboundPolicy) -> Self {
        let policy = Arc::new(policy);
        let http = guarded_client(&policy, TIMEOUT);
        Self {
            policy,
            ..Self::with_client(http)
        }
    }

    /// Sets the shortest interval between two fetches of one URI forced by an unknown key.
    pub fn with_min_refetch(mut self, min_refetch: Duration) -> Self {
        self.min_refetch = min_refetch;
        self
    }

    /// A cache using `http`, which should have a timeout and a `GuardedResolver`.
    pub fn with_client(http: reqwest::Client) -> Self {
        Self {
            http,
            policy: Arc::new(OutboundPolicy::default()),
            slots: Mutex::new(HashMap::new()),
            ttl: TTL,
            min_refetch: MIN_REFETCH,
        }
    }

    /// The JWK Set at `uri`, from the cache when it is younger than five minutes. With
    /// `force_refresh` it is fetched again unless it was fetched in the last ten seconds.
    pub async fn get(&self, uri: &Url, force_refresh: bool) -> Result<Arc<JwkSet>, KeyError> {
        let slot = self.slot(uri);
        let mut cached = slot.lock().await;
        if let Some(f) = cached.as_ref() {
            let age = f.at.elapsed();
            let usable = match f.result {
                Ok(_) => age < self.ttl && (!force_refresh || age < self.min_refetch),
                Err(_) => age < self.min_refetch,
            };
            if usable {
                return f.result.clone();
            }
        }
        let result = self.fetch(uri).await.map(Arc::new);
        if let Err(e) = &result {
            tracing::warn!(jwks_uri = %uri, error = %e, "failed to fetch a client JWKS");
        }
        *cached = Some(Fetched {
            at: Instant::now(),
            result: result.clone(),
        });
        result
    }

    fn slot(&self, uri: &Url) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(uri.as_str()) {
            return slot.clone();
        }
        if slots.len() >= PRUNE_ABOVE {
            let ttl = self.ttl;
            slots.retain(|_, slot| match slot.try_lock() {
                Ok(entry) => entry.as_ref().is_some_and(|f| f.at.elapsed() < ttl),
                Err(_) => true, // being fetched right now
            });
        }
        slots.entry(uri.as_str().to_owned()).or_default().clone()
    }

    async fn fetch(&self, uri: &Url) -> Result<JwkSet, KeyError> {
        self.policy.check_url(uri)?;
        let mut response = self
            .http
            .get(uri.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| {
                tracing::debug!(jwks_uri = %uri, error = %e, "JWKS request failed");
                KeyError::invalid("jwks_uri could not be fetched")
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(KeyError::Invalid(format!(
                "jwks_uri responded with HTTP status {}",
                status.as_u16()
            )));
        }
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|t| t == "application/json" || t.ends_with("+json"));
        if !is_json {
            return Err(KeyError::invalid("jwks_uri did not respond with JSON"));
        }
        let too_large = || KeyError::invalid("jwks_uri responded with more than 256 KiB");
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| KeyError::invalid("jwks_uri response could not be read"))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| KeyError::invalid("jwks_uri response is not UTF-8"))?;
        parse_jwks(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A tiny HTTP server: each path answers one way; counts requests.
    async fn serve(jwks: String) -> (Url, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let jwks = jwks.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = req.split(' ').nth(1).unwrap_or("/").to_owned();
                    let (status, ctype, body) = match path.as_str() {
                        "/ok" => ("200 OK", "application/jwk-set+json", jwks),
                        "/html" => ("200 OK", "text/html", jwks),
                        "/big" => ("200 OK", "application/json", " ".repeat(MAX_BODY + 1)),
                        _ => ("404 Not Found", "application/json", "{}".to_owned()),
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(resp.as_bytes()).await;
                });
            }
        });
        (base, hits)
    }

    fn jwks() -> String {
        let pair = Ed25519KeyPair::generate().unwrap();
        let key = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1",
            "x": b64url(pair.public_key().as_ref())});
        serde_json::json!({ "keys": [key] }).to_string()
    }

    fn cache(min_refetch: Duration) -> RemoteJwksCache {
        RemoteJwksCache {
            min_refetch,
            ..RemoteJwksCache::new()
        }
    }

    #[tokio::test]
    async fn caches_and_limits_forced_refetches() {
        let (base, hits) = serve(jwks()).await;
        let uri = base.join("ok").unwrap();
        let cache = cache(Duration::from_millis(300));
        assert!(cache.get(&uri, false).await.unwrap().contains_kid("k1"));
        cache.get(&uri, false).await.unwrap();
        cache.get(&uri, true).await.unwrap();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "cached, and forced too soon"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        cache.get(&uri, false).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1, "still within the TTL");
        cache.get(&uri, true).await.unwrap();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2,
            "forced after the minimum interval"
        );
    }

    #[tokio::test]
    async fn refuses_bad_responses_and_caches_the_failure() {
        let (base, hits) = serve(jwks()).await;
        let cache = cache(Duration::from_secs(10));
        for path in ["html", "big", "missing"] {
            let uri = base.join(path).unwrap();
            assert!(
                matches!(cache.get(&uri, false).await, Err(KeyError::Invalid(_))),
                "{path}"
            );
            assert!(cache.get(&uri, true).await.is_err());
        }
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        let ftp = Url::parse("ftp://example.com/jwks").unwrap();
        assert!(cache.get(&ftp, false).await.is_err());
    }
}
