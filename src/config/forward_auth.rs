//! `[forward_auth]`: what `/forward-auth` requires per host and path, the identity headers
//! it answers with, and where browsers without a session are sent (docs/gateways.md).
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use url::Url;

use super::Settings;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthSettings {
    /// What each route requires: the rule with a matching host and the longest matching
    /// path prefix applies. No matching rule: a valid access token, no scope or audience.
    pub rules: Vec<ForwardAuthRule>,
    /// Access-token claims passed to the upstream as headers: claim name -> header name
    /// (e.g. `auth_time = "X-Auth-Time"`). For session requests the user's `name`, `email`
    /// and `preferred_username` are available too.
    pub claim_headers: std::collections::BTreeMap<String, String>,
    /// Hosts a browser may be sent back to after signing in: `app.example.com` (exactly that
    /// host) or `.example.com` (that domain and its subdomains). Other hosts get no redirect.
    pub allowed_redirect_domains: Vec<String>,
    /// Where rules with `session = "redirect"` send a browser without a session; the
    /// original URL is added as the `rd` query parameter. Unset: this server's own
    /// `/signin?return_to=<original URL>`.
    pub sign_in_url: Option<Url>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthRule {
    /// Host name the rule is for (case-insensitive, port ignored); unset: every host.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix, matched on whole segments (`/api` matches `/api` and `/api/x`, not `/apix`).
    #[serde(default = "root_path")]
    pub path_prefix: String,
    /// Scopes an access token must carry, all of them.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Audiences an access token's `aud` must contain, all of them.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Browsers with a Latchkey session and no token: `deny` (401), `allow` (200 with the
    /// session's subject; `scopes` and `audiences` apply to tokens only) or `redirect`
    /// (like `allow`, and without a session sent to sign in: `sign_in_url`, or this server's
    /// `/signin`).
    #[serde(default)]
    pub session: SessionPolicy,
}

fn root_path() -> String {
    "/".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionPolicy {
    #[default]
    Deny,
    Allow,
    Redirect,
}

impl Settings {
    pub(super) fn validate_forward_auth(&self) -> anyhow::Result<()> {
        let f = &self.forward_auth;
        for rule in &f.rules {
            if !rule.path_prefix.starts_with('/') {
                bail!("forward_auth.rules: path_prefix must start with /");
            }
            for s in &rule.scopes {
                crate::domain::ScopeToken::parse(s)
                    .with_context(|| format!("forward_auth.rules: {s:?} is not a scope"))?;
            }
        }
        for header in f.claim_headers.values() {
            // RFC 9110 section 5.1: a field name is a token.
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if header.is_empty() || !header.chars().all(token) {
                bail!("forward_auth.claim_headers: {header:?} is not a header name");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_auth_rules_load_from_the_file() {
        let dir = std::env::temp_dir().join(format!("latchkey-fa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latchkey.toml");
        std::fs::write(
            &file,
            r#"
[forward_auth]
allowed_redirect_domains = [".example.com"]
sign_in_url = "https://portal.example.com/sign-in"
claim_headers = { auth_time = "X-Auth-Time" }

[[forward_auth.rules]]
host = "api.example.com"
path_prefix = "/orders"
scopes = ["orders:read"]

[[forward_auth.rules]]
session = "redirect"
"#,
        )
        .unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let f = &s.forward_auth;
        assert_eq!(f.rules.len(), 2);
        assert_eq!(f.rules[0].host.as_deref(), Some("api.example.com"));
        assert_eq!(f.rules[0].scopes, ["orders:read"]);
        assert_eq!(f.rules[0].session, SessionPolicy::Deny);
        assert_eq!(f.rules[1].path_prefix, "/");
        assert_eq!(f.rules[1].session, SessionPolicy::Redirect);
        assert_eq!(f.claim_headers["auth_time"], "X-Auth-Time");
    }

    #[test]
    fn forward_auth_settings_that_cannot_work_are_refused() {
        let rule = |session| ForwardAuthRule {
            host: None,
            path_prefix: "/app".into(),
            scopes: vec!["read".into()],
            audiences: Vec::new(),
            session,
        };
        let mut s = Settings::default();
        s.forward_auth.rules = vec![rule(SessionPolicy::Allow)];
        assert!(s.validate().is_ok());
        s.forward_auth.rules = vec![rule(SessionPolicy::Redirect)];
        assert!(s.validate().is_ok(), "redirect to this server's /signin");
        s.forward_auth.sign_in_url = Some(Url::parse("https://portal.example.com/in").unwrap());
        assert!(s.validate().is_ok());
        let mut bad = rule(SessionPolicy::Deny);
        bad.scopes = vec!["two words".into()];
        s.forward_auth.rules = vec![bad];
        assert!(s.validate().is_err(), "scope");
        let mut bad = rule(SessionPolicy::Deny);
        bad.path_prefix = "app".into();
        s.forward_auth.rules = vec![bad];
        assert!(s.validate().is_err(), "path prefix");
        s.forward_auth.rules = Vec::new();
        s.forward_auth.claim_headers = [("email".to_owned(), "X-Auth-Email\r\n".to_owned())]
            .into_iter()
            .collect();
        assert!(s.validate().is_err(), "header name");
    }
}
