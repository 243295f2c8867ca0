//! Forward authentication: the decision an API gateway (nginx `auth_request`, Traefik
//! `ForwardAuth`, Envoy `ext_authz`) asks for on every request. A bearer access token is
//! checked from the key ring and the revocation port alone (RFC 9068 section 4; RFC 6750
//! section 3.1 for the refusals); a browser's Latchkey session may stand in for a token where
//! a rule allows it. What a route requires comes from `forward_auth.rules` and, only ever
//! adding to them, from the gateway's `X-Auth-Require-*` headers. Knows nothing of HTTP.
use serde_json::Value;
use url::Url;

use super::access_token::audiences;
use super::error::OAuthResult;
use super::{Provider, now};
use crate::config::{ForwardAuthRule, SessionPolicy};
use crate::domain::Scope;

/// The credentials a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    None,
    Bearer(&'a str),
    /// An `Authorization` header that is not a well-formed bearer token.
    Malformed,
}

/// The request the gateway is deciding about.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The original method (only `GET` and `HEAD` are sent to sign in: a browser comes back
    /// from signing in with a `GET`, so another method's request would be lost).
    pub method: String,
    /// `https` or `http`, when the gateway said.
    pub scheme: Option<String>,
    pub host: Option<String>,
    /// Path and query as received (not yet normalised).
    pub uri: String,
}

#[derive(Debug, Clone, Default)]
pub struct Demands {
    pub scopes: Scope,
    pub audiences: Vec<String>,
}

/// Who may pass, and what the upstream is told.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    /// `None` for a browser session.
    pub client_id: Option<String>,
    pub scope: Scope,
    /// (header name, value) for `forward_auth.claim_headers`.
    pub claim_headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Allow(Identity),
    /// No credentials (RFC 6750 section 3.1: the challenge without an error code).
    Unauthenticated,
    /// Expired, revoked, malformed, foreign, or for another audience.
    InvalidToken(&'static str),
    /// Valid, but the route needs these scopes (all of them).
    InsufficientScope(Scope),
    /// A browser to send to sign in; the URL carries the original one (`rd` for a
    /// configured `sign_in_url`, `return_to` for this server's `/signin`).
    SignIn(Url),
}

impl Provider {
    /// The gateway's question: may this request through? `extra` are the gateway's own
    /// demands, added to the matching rule's.
    pub async fn forward_auth(
        &self,
        credential: Credential<'_>,
        session_cookie: Option<&str>,
        target: &Target,
        extra: Demands,
    ) -> OAuthResult<Verdict> {
        let path = normalise_path(&target.uri);
        let rule = self.forward_rule(target.host.as_deref(), &path);
        let session_policy = rule.map_or(SessionPolicy::Deny, |r| r.session);
        let token = match credential {
            Credential::Malformed => return Ok(Verdict::InvalidToken("malformed credentials")),
            Credential::Bearer(t) => t,
            Credential::None => {
                return self
                    .forward_session(session_policy, session_cookie, target)
                    .await;
            }
        };
        let Some(at) = self.verify_access_token(token) else {
            return Ok(Verdict::InvalidToken(
                "the access token is invalid or expired",
            ));
        };
        if at.claims.get("nbf").and_then(Value::as_i64).unwrap_or(0)
            > now() + self.settings.tokens.clock_skew as i64
        {
            return Ok(Verdict::InvalidToken("the access token is not yet valid"));
        }
        // The same liveness rule as introspection (not revoked, client still registered),
        // through the ports, so the per-node caches apply.
        if !self.is_live(&at).await? {
            return Ok(Verdict::InvalidToken(
                "the access token was revoked or its client removed",
            ));
        }
        let mut demands = extra;
        if let Some(rule) = rule {
            for s in &rule.scopes {
                if let Ok(s) = Scope::parse(s) {
                    demands.scopes = demands.scopes.union(&s);
                }
            }
            demands.audiences.extend(rule.audiences.iter().cloned());
        }
        let aud = audiences(&at.claims);
        if !demands.audiences.iter().all(|a| aud.contains(&a.as_str())) {
            return Ok(Verdict::InvalidToken(
                "the access token is not for this audience",
            ));
        }
        if !demands.scopes.is_subset_of(&at.scope) {
            return Ok(Verdict::InsufficientScope(demands.scopes));
        }
        Ok(Verdict::Allow(Identity {
            claim_headers: self.claim_headers(&at.claims),
            subject: at.sub,
            client_id: Some(at.client_id),
            scope: at.scope,
        }))
    }

    async fn forward_session(
        &self,
        policy: SessionPolicy,
        cookie: Option<&str>,
        target: &Target,
    ) -> OAuthResult<Verdict> {
        if policy == SessionPolicy::Deny {
            return Ok(Verdict::Unauthenticated);
        }
        if let Some((_, user)) = self.current_session(cookie).await? {
            let claims = serde_json::json!({
                "sub": user.id,
                "name": user.name,
                "email": user.email,
                "preferred_username": user.username,
            });
            return Ok(Verdict::Allow(Identity {
                claim_headers: self.claim_headers(&claims),
                subject: user.id,
                client_id: None,
                scope: Scope::default(),
            }));
        }
        if policy == SessionPolicy::Redirect
            && let Some(url) = self.sign_in_redirect(target)
        {
            return Ok(Verdict::SignIn(url));
        }
        Ok(Verdict::Unauthenticated)
    }

    /// The rule for a host and normalised path: matching host (or none given), longest
    /// matching prefix; on equal prefixes a rule naming the host wins.
    fn forward_rule(&self, host: Option<&str>, path: &str) -> Option<&ForwardAuthRule> {
        let host = host.map(strip_port);
        self.settings
            .forward_auth
            .rules
            .iter()
            .filter(|r| match (&r.host, host) {
                (None, _) => true,
                (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                (Some(_), None) => false,
            })
            .filter(|r| prefix_matches(&r.path_prefix, path))
            .max_by_key(|r| (r.path_prefix.trim_end_matches('/').len(), r.host.is_some()))
    }

    /// `sign_in_url?rd=<original URL>`, or without a `sign_in_url` this server's own
    /// `/signin?return_to=<original URL>`; only for a host in `allowed_redirect_domains`.
    fn sign_in_redirect(&self, target: &Target) -> Option<Url> {
        let f = &self.settings.forward_auth;
        if !matches!(target.method.to_ascii_uppercase().as_str(), "GET" | "HEAD") {
            return None;
        }
        let (mut sign_in, param) = match &f.sign_in_url {
            Some(url) => (url.clone(), "rd"),
            None => (Url::parse(&self.endpoint("/signin")).ok()?, "return_to"),
        };
        let scheme = target.scheme.as_deref().unwrap_or("https");
        if !matches!(scheme, "https" | "http") || !target.uri.starts_with('/') {
            return None;
        }
        let original = Url::parse(&format!(
            "{scheme}://{}{}",
            target.host.as_deref()?,
            target.uri
        ))
        .ok()?;
        if !original.username().is_empty() || original.password().is_some() {
            return None;
        }
        let host = original.host_str()?;
        if !redirect_allowed(&f.allowed_redirect_domains, host) {
            return None;
        }
        sign_in
            .query_pairs_mut()
            .append_pair(param, original.as_str());
        Some(sign_in)
    }

    fn claim_headers(&self, claims: &Value) -> Vec<(String, String)> {
        self.settings
            .forward_auth
            .claim_headers
            .iter()
            .filter_map(|(claim, header)| {
                let value = match claims.get(claim)? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => return None,
                };
                // Only what a header can carry unchanged: visible ASCII and spaces.
                value
                    .chars()
                    .all(|c| c == ' ' || c.is_ascii_graphic())
                    .then(|| (header.clone(), value))
            })
            .collect()
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `app.example.com` allows exactly that host; `.example.com` the domain and its subdomains.
pub fn redirect_allowed(domains: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    domains.iter().any(|d| {
        let d = d.to_ascii_lowercase();
        match d.strip_prefix('.') {
            Some(domain) => host == domain || host.ends_with(&d),
            None => host == d,
        }
    })
}

/// The path the upstream will serve: query dropped, percent-escapes decoded, empty and `.`
/// segments removed and `..` resolved (RFC 3986 section 5.2.4), so `/public/../admin` is
/// judged as `/admin` and `/%61dmin` as `/admin`.
pub fn normalise_path(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segments.join("/"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_judged_as_the_upstream_sees_them() {
        assert_eq!(normalise_path("/public/../admin?x=1"), "/admin");
        assert_eq!(normalise_path("/%61dmin"), "/admin");
        assert_eq!(normalise_path("//api/./v1/"), "/api/v1");
        assert_eq!(normalise_path("/..%2f..%2fadmin"), "/admin");
        assert_eq!(normalise_path(""), "/");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api/", "/api/x"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(prefix_matches("/", "/anything"));
    }

    #[test]
    fn redirects_only_to_configured_hosts() {
        let domains = vec!["app.example.com".to_owned(), ".corp.example".to_owned()];
        assert!(redirect_allowed(&domains, "APP.example.com"));
        assert!(redirect_allowed(&domains, "corp.example"));
        assert!(redirect_allowed(&domains, "a.b.corp.example"));
        assert!(!redirect_allowed(&domains, "evilcorp.example"));
        assert!(!redirect_allowed(&domains, "x.app.example.com"));
        assert!(!redirect_allowed(&domains, "example.com"));
    }

    #[test]
    fn ports_are_ignored_when_matching_hosts() {
        assert_eq!(strip_port("api.example.com:8443"), "api.example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("api.example.com"), "api.example.com");
    }
}
