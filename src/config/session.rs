//! `[session]`: the browser session at Latchkey (its cookie's `Domain`).
use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::Settings;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// `Domain` of the session cookie (e.g. `example.com`), so that browsers also send it to
    /// sibling hosts whose gateway asks `/forward-auth` (docs/gateways.md). The issuer's
    /// host must be inside it. Unset: the cookie is host-only (`__Host-` with https).
    pub cookie_domain: Option<String>,
}

impl SessionSettings {
    /// The cookie domain without a leading dot, lowercased.
    pub fn cookie_domain(&self) -> Option<String> {
        self.cookie_domain
            .as_deref()
            .map(|d| d.trim_start_matches('.').to_ascii_lowercase())
    }
}

impl Settings {
    pub(super) fn validate_session(&self) -> anyhow::Result<()> {
        let Some(domain) = self.session.cookie_domain() else {
            return Ok(());
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !domain.contains('.') || !domain.split('.').all(label_ok) {
            bail!(
                "session.cookie_domain {domain:?} must be a domain name of at least two labels (a cookie cannot be shared on an address or a top-level domain)"
            );
        }
        if domain.parse::<std::net::Ipv4Addr>().is_ok() {
            bail!("session.cookie_domain must be a domain name, not an address");
        }
        let host = match self.issuer.host() {
            Some(url::Host::Domain(h)) => h.to_ascii_lowercase(),
            _ => bail!("session.cookie_domain needs an issuer with a domain name, not an address"),
        };
        if host != domain && !host.ends_with(&format!(".{domain}")) {
            bail!(
                "session.cookie_domain {domain:?} must contain the issuer's host {host:?} (RFC 6265 section 5.3: a browser ignores a Domain that does not)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    #[test]
    fn the_session_cookie_domain_must_contain_the_issuer() {
        let with = |issuer: &str, domain: &str| {
            let mut s = Settings {
                issuer: Url::parse(issuer).unwrap(),
                ..Settings::default()
            };
            s.session.cookie_domain = Some(domain.into());
            s.validate()
        };
        assert!(with("https://login.example.com", "example.com").is_ok());
        assert!(with("https://login.example.com", ".Example.com").is_ok());
        assert!(with("https://example.com", "example.com").is_ok());
        assert!(with("https://login.example.com", "other.com").is_err());
        assert!(
            with("https://login.example.com", "ample.com").is_err(),
            "not a suffix of labels"
        );
        assert!(
            with("https://login.example.com", "com").is_err(),
            "top-level domain"
        );
        assert!(
            with("https://127.0.0.1", "0.0.1").is_err(),
            "address issuer"
        );
        assert!(with("https://login.example.com", "exa mple.com").is_err());
    }
}
