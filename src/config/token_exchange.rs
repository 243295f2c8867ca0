//! `[token_exchange]`: the other issuers whose access tokens clients may exchange
//! (RFC 8693), and how their subjects map to subjects here.
use anyhow::bail;
use serde::{Deserialize, Serialize};
use url::Url;

use super::Settings;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeSettings {
    /// Other issuers whose access tokens clients may exchange (each client only for the
    /// issuers its exchange policy names).
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// An issuer whose JWT access tokens Latchkey accepts as subject tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The `iss` of its tokens, compared exactly.
    pub issuer: String,
    /// Where its public keys are (https, or http to a loopback host); fetched under the same
    /// outbound rules and cache as clients' `jwks_uri` (`keys.client_jwks_*`).
    pub jwks_uri: Url,
    /// JWS algorithms accepted from it (RS256, RS384, RS512, PS256, PS384, PS512, ES256,
    /// ES384, EdDSA); never `none` or HMAC.
    #[serde(default = "default_trusted_algorithms")]
    pub algorithms: Vec<String>,
    /// When set, the token's `aud` must contain it (for example this server's issuer).
    #[serde(default)]
    pub audience: Option<String>,
    /// Accepted values of the JWS header `typ` (case-insensitive); a token without `typ`
    /// is refused. Default: `at+jwt` and `application/at+jwt` (RFC 9068 section 2.1).
    #[serde(default = "default_trusted_typs")]
    pub token_types: Vec<String>,
    /// How its `sub` becomes the `sub` of the exchanged token.
    #[serde(default)]
    pub subject: SubjectMapping,
    /// For `subject = "prefix"`: put before the foreign `sub` (e.g. `"partner:"`).
    #[serde(default)]
    pub subject_prefix: Option<String>,
    /// For `subject = "local_user"`: the claim holding a local username (default
    /// `preferred_username`).
    #[serde(default)]
    pub subject_claim: Option<String>,
}

/// How a foreign subject becomes a subject here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectMapping {
    /// The foreign `sub` unchanged: only for an issuer that shares this server's user ids.
    AsIs,
    /// `subject_prefix` + the foreign `sub`, so foreign subjects never collide with local
    /// user ids.
    #[default]
    Prefix,
    /// The local user whose username is in `subject_claim`; unknown users are refused.
    LocalUser,
}

fn default_trusted_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into(), "EdDSA".into()]
}

fn default_trusted_typs() -> Vec<String> {
    vec!["at+jwt".into(), "application/at+jwt".into()]
}

impl Settings {
    pub(super) fn validate_token_exchange(&self) -> anyhow::Result<()> {
        let own = self.issuer_str();
        let mut seen = std::collections::HashSet::new();
        for t in &self.token_exchange.trusted_issuers {
            let name = &t.issuer;
            let ctx = |what: &str| format!("token_exchange.trusted_issuers {name:?}: {what}");
            crate::oauth::model::ExchangePolicy::validate_issuer(name)
                .map_err(|e| anyhow::anyhow!(ctx(&e)))?;
            if *name == own {
                bail!(ctx("this server's own issuer needs no entry"));
            }
            if !seen.insert(name.as_str()) {
                bail!(ctx("listed twice"));
            }
            crate::keys::OutboundPolicy::default()
                .check_url(&t.jwks_uri)
                .map_err(|e| anyhow::anyhow!(ctx(&format!("jwks_uri: {e}"))))?;
            if t.algorithms.is_empty() {
                bail!(ctx("algorithms is empty"));
            }
            if let Some(bad) = t
                .algorithms
                .iter()
                .find(|a| !crate::keys::is_verifiable_alg(a))
            {
                bail!(ctx(&format!("algorithm {bad:?} is not accepted")));
            }
            if t.token_types.is_empty() || t.token_types.iter().any(|s| s.trim().is_empty()) {
                bail!(ctx("token_types must list at least one typ"));
            }
            match t.subject {
                SubjectMapping::Prefix if t.subject_prefix.as_deref().is_none_or(str::is_empty) => {
                    bail!(ctx("subject = \"prefix\" needs a subject_prefix"));
                }
                SubjectMapping::AsIs | SubjectMapping::LocalUser if t.subject_prefix.is_some() => {
                    bail!(ctx("subject_prefix applies only to subject = \"prefix\""));
                }
                _ => {}
            }
            if t.subject_claim.is_some() && t.subject != SubjectMapping::LocalUser {
                bail!(ctx(
                    "subject_claim applies only to subject = \"local_user\""
                ));
            }
        }
        Ok(())
    }
}
