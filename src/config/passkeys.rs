//! `[passkeys]`: WebAuthn on or off, the ceremony lifetime, and the relying party the
//! issuer makes.
use anyhow::bail;
use serde::{Deserialize, Serialize};
use url::Url;

use super::Settings;

/// Passkeys (WebAuthn Level 3). The relying party id is the issuer's host and the only
/// accepted origin is the issuer's origin.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeySettings {
    /// `true` or `false`. Unset (the default): on wherever the issuer can be a relying party
    /// id (an https URL with a domain name, or `http://localhost`), otherwise off with a
    /// warning at start-up. Set to `true`, an issuer that cannot be one stops the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Seconds a registration or sign-in ceremony may take, from the options sent to the
    /// browser to the signed answer.
    pub ceremony_ttl: u64,
}

impl Default for PasskeySettings {
    fn default() -> Self {
        Self {
            enabled: None,
            ceremony_ttl: 300,
        }
    }
}

impl Settings {
    /// The WebAuthn relying party id (the issuer's host) and origin (the issuer's origin),
    /// or why the issuer cannot be one: WebAuthn needs a secure context and a domain
    /// (WebAuthn Level 3 section 5.1.3 step 8; an IP address is not a valid domain).
    pub fn passkey_relying_party(&self) -> Result<(String, Url), String> {
        let host = match self.issuer.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(_) => return Err("its host is an IP address, not a domain name".into()),
            None => return Err("it has no host".into()),
        };
        let local = host == "localhost" || host.ends_with(".localhost");
        if self.issuer.scheme() != "https" && !local {
            return Err(
                "browsers offer WebAuthn only to https pages (and http://localhost)".into(),
            );
        }
        let origin = Url::parse(&self.issuer.origin().ascii_serialization())
            .map_err(|e| format!("its origin is not a URL: {e}"))?;
        Ok((host, origin))
    }

    /// Whether passkeys are on: `passkeys.enabled`, or when unset whether the issuer can be
    /// a relying party id.
    pub fn passkeys_enabled(&self) -> bool {
        match self.passkeys.enabled {
            Some(on) => on,
            None => self.passkey_relying_party().is_ok(),
        }
    }

    pub(super) fn validate_passkeys(&self) -> anyhow::Result<()> {
        if self.passkeys.ceremony_ttl == 0 || self.passkeys.ceremony_ttl > 3600 {
            bail!("passkeys.ceremony_ttl must be between 1 and 3600 seconds");
        }
        if self.passkeys.enabled == Some(true)
            && let Err(why) = self.passkey_relying_party()
        {
            bail!(
                "passkeys.enabled is true, but the issuer {} cannot be a WebAuthn relying party: {why}; use an https issuer with a domain name (or http://localhost), or set passkeys.enabled = false",
                self.issuer_str()
            );
        }
        Ok(())
    }
}
