//! `[keys]`: signing-key reloads, rotation and retention, the JWKS cache lifetime, and
//! the fetching of clients' JWKS.
use serde::{Deserialize, Serialize};

use super::Settings;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// How often each node re-reads signing keys from the database, seconds.
    pub reload_interval: u64,
    /// How long a rotated-out key stays published in the JWKS, seconds. Must exceed the
    /// longest token lifetime so that tokens it signed can still be verified.
    pub retired_key_retention: u64,
    /// `Cache-Control: max-age` of the JWKS response, seconds.
    pub jwks_max_age: u64,
    /// Seconds between `latchkey keys rotate` publishing new keys and signing with them; more
    /// than `jwks_max_age` + `reload_interval`, so verifiers' cached JWKS already hold them.
    pub rotation_delay: u64,
    /// Seconds a signing key signs before it is replaced automatically (per algorithm,
    /// decided through the database so one node rotates); 0 turns automatic rotation off.
    pub rotation_period: u64,
    /// Shortest interval, seconds, between two fetches of a client's `jwks_uri` caused by an
    /// assertion naming a key we have not seen (limits what unknown `kid`s can make us do).
    pub client_jwks_min_refetch: u64,
    /// Networks (CIDR) a client's `jwks_uri` may resolve to although they are otherwise
    /// refused (link-local, cloud metadata, loopback under a name other than `localhost`;
    /// see `keys::outbound`). Empty by default.
    pub client_jwks_allowed_networks: Vec<ipnet::IpNet>,
}

impl Settings {
    /// Key rotation as configured: a successor is published `prepublish` seconds before it
    /// signs, never less than one JWKS cache lifetime (`jwks_max_age` + `reload_interval`);
    /// a retired key stays published for `retired_key_retention`, never less than the
    /// longest lifetime of a token it signed (access or ID token) plus the clock skew.
    pub fn rotation_policy(&self) -> crate::keys::RotationPolicy {
        let k = &self.keys;
        let t = &self.tokens;
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let cache_lifetime = secs(k.jwks_max_age).saturating_add(secs(k.reload_interval));
        let longest_token =
            secs(t.access_token_ttl.max(t.id_token_ttl)).saturating_add(secs(t.clock_skew));
        crate::keys::RotationPolicy {
            period: secs(k.rotation_period),
            prepublish: secs(k.rotation_delay).max(cache_lifetime),
            retention: secs(k.retired_key_retention).max(longest_token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_never_publishes_late_or_unpublishes_early() {
        let mut s = Settings::default();
        let p = s.rotation_policy();
        assert_eq!(p.period, 90 * 24 * 3600);
        assert_eq!(p.prepublish, 600);
        assert_eq!(p.retention, 7 * 24 * 3600);

        // A JWKS cached longer than the delay: publish at least one cache lifetime ahead.
        s.keys.jwks_max_age = 3600;
        s.keys.rotation_delay = 60;
        assert_eq!(s.rotation_policy().prepublish, 3600 + 30);
        // Tokens outliving the retention: keep the key until they have expired.
        s.keys.retired_key_retention = 60;
        s.tokens.id_token_ttl = 86_400;
        assert_eq!(s.rotation_policy().retention, 86_400 + 60);
    }

    #[test]
    fn a_period_shorter_than_the_pre_publication_is_refused() {
        let mut s = Settings::default();
        s.keys.rotation_period = 300;
        assert!(s.validate().is_err());
        s.keys.rotation_period = 0;
        assert!(s.validate().is_ok());
    }
}
