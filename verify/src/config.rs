//! What a service tells the verifier: who issues its tokens, which audience it is, and how
//! tolerant to be of clocks and key caches.
use std::time::Duration;

use crate::Alg;

/// Settings of a [`crate::Verifier`]. Build with [`VerifierConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The issuer URL exactly as Latchkey publishes it (`iss`); discovery is fetched from
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// This service's audience: a token must name it in `aud`.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`. Default 30 s; capped at 5 minutes.
    pub leeway: Duration,
    /// Signature algorithms accepted. Default: RS256, ES256, EdDSA (the only ones supported;
    /// `none` and HMAC never are).
    pub algorithms: Vec<Alg>,
    /// A token signed by an unknown `kid` refetches the JWKS at most once per this interval.
    /// Default 30 s.
    pub refetch_interval: Duration,
    /// Bounds on the JWKS `Cache-Control: max-age`: a shorter one is raised to `min_cache`,
    /// a longer one (or none) lowered to `max_cache`. Defaults 60 s and 1 day.
    pub min_cache: Duration,
    pub max_cache: Duration,
    /// Timeout of each discovery or JWKS request. Default 5 s.
    pub http_timeout: Duration,
}

pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(300);

impl VerifierConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            algorithms: vec![Alg::RS256, Alg::ES256, Alg::EdDSA],
            refetch_interval: Duration::from_secs(30),
            min_cache: Duration::from_secs(60),
            max_cache: Duration::from_secs(86_400),
            http_timeout: Duration::from_secs(5),
        }
    }

    /// The JWKS lifetime for a response's `Cache-Control` header value.
    pub(crate) fn cache_lifetime(&self, cache_control: Option<&str>) -> Duration {
        let max_age = cache_control.and_then(|v| {
            v.split(',').find_map(|d| {
                let (k, n) = d.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("max-age")
                    .then(|| n.trim().trim_matches('"').parse::<u64>().ok())?
            })
        });
        let no_store = cache_control.is_some_and(|v| {
            v.split(',').any(|d| {
                let d = d.trim();
                d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache")
            })
        });
        let wanted = match (no_store, max_age) {
            (true, _) => Duration::ZERO,
            (false, Some(s)) => Duration::from_secs(s),
            (false, None) => self.max_cache,
        };
        wanted.clamp(self.min_cache, self.max_cache.max(self.min_cache))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_kept_within_bounds() {
        let c = VerifierConfig::new("https://id.example", "orders");
        let secs = |v: Option<&str>| c.cache_lifetime(v).as_secs();
        assert_eq!(secs(Some("public, max-age=3600")), 3600);
        assert_eq!(secs(Some("max-age=5")), 60);
        assert_eq!(secs(Some("max-age=99999999")), 86_400);
        assert_eq!(secs(Some("no-store")), 60);
        assert_eq!(secs(Some("max-age=oops")), 86_400);
        assert_eq!(secs(None), 86_400);
    }
}
