use url::Url;

use super::ParseError;

/// A registered redirection endpoint (RFC 6749 section 3.1.2): an absolute URI without a
/// fragment. Plain `http` is allowed only for loopback hosts (RFC 8252 section 7.3); custom
/// schemes for native apps (RFC 8252 section 7.1) must contain a period.
///
/// Matching against the request is by exact string comparison (RFC 9700 section 2.1), so the
/// registered text is kept as given; the one exception is the port of a loopback `http` URI,
/// which a native app chooses when it starts listening (RFC 8252 section 7.3, `matches`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub const MAX_LEN: usize = 2000;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.len() > Self::MAX_LEN {
            return Err(ParseError::new("redirect URI is too long"));
        }
        let url = Url::parse(s).map_err(|e| {
            ParseError::new(format!("redirect URI {s:?} is not an absolute URI: {e}"))
        })?;
        if url.fragment().is_some() || s.contains('#') {
            return Err(ParseError::new(format!(
                "redirect URI {s:?} must not contain a fragment"
            )));
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = matches!(
                    url.host(),
                    Some(url::Host::Domain("localhost"))
                        | Some(url::Host::Ipv4(_))
                        | Some(url::Host::Ipv6(_))
                ) && is_loopback_host(&url);
                if !loopback {
                    return Err(ParseError::new(format!(
                        "redirect URI {s:?} uses http for a host other than loopback; use https"
                    )));
                }
            }
            "javascript" | "data" | "file" | "vbscript" | "about" | "blob" => {
                return Err(ParseError::new(format!(
                    "redirect URI scheme {:?} is not allowed",
                    url.scheme()
                )));
            }
            other => {
                if !other.contains('.') {
                    return Err(ParseError::new(format!(
                        "private-use redirect URI scheme {other:?} must be a reverse domain name (RFC 8252 section 7.1)"
                    )));
                }
            }
        }
        if url.username() != "" || url.password().is_some() {
            return Err(ParseError::new(
                "redirect URI must not contain user information",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The redirect URI to use for a request that names `requested`, if it matches this
    /// registration: the same string, or, for an `http` loopback registration, the same
    /// string but for the port (RFC 8252 section 7.3; RFC 9700 section 2.1). Everything
    /// else (scheme, host spelling, path, query) must be identical.
    pub fn matches(&self, requested: &str) -> Option<RedirectUri> {
        if self.0 == requested {
            return Some(self.clone());
        }
        let (scheme, host, rest) = split_loopback(&self.0)?;
        let (r_scheme, r_host, r_rest) = split_loopback(requested)?;
        if scheme != r_scheme || host != r_host || rest != r_rest {
            return None;
        }
        RedirectUri::parse(requested).ok()
    }
}

/// `http://HOST[:PORT]REST` of a loopback URI as (scheme, host, rest), the port left out;
/// `None` for anything else, including a port that is not plain digits.
fn split_loopback(s: &str) -> Option<(&str, &str, &str)> {
    let after = s.strip_prefix("http://")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let host = match authority.rfind(':') {
        // `[::1]` alone has colons but no port after the bracket.
        Some(i) if !authority[i..].contains(']') => {
            let port = &authority[i + 1..];
            let canonical = port.parse::<u16>().is_ok_and(|n| n.to_string() == port);
            if !canonical {
                return None;
            }
            &authority[..i]
        }
        _ => authority,
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host == "[::1]";
    loopback.then_some(("http", host, rest))
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod matching_tests {
    use super::RedirectUri;

    fn reg(s: &str) -> RedirectUri {
        RedirectUri::parse(s).unwrap()
    }

    #[test]
    fn loopback_registrations_accept_any_port() {
        let r = reg("http://127.0.0.1/callback");
        assert_eq!(
            r.matches("http://127.0.0.1:53117/callback")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:53117/callback"
        );
        let r = reg("http://127.0.0.1:8000/callback?x=1");
        assert!(r.matches("http://127.0.0.1:9/callback?x=1").is_some());
        assert!(
            reg("http://[::1]:1/cb")
                .matches("http://[::1]:4242/cb")
                .is_some()
        );
        assert!(
            reg("http://localhost/cb")
                .matches("http://localhost:4242/cb")
                .is_some()
        );
    }

    #[test]
    fn everything_but_the_port_must_be_identical() {
        let r = reg("http://127.0.0.1/callback");
        for bad in [
            "http://127.0.0.1:80/callback/",
            "http://127.0.0.1:80/Callback",
            "http://127.0.0.1:80/callback?x",
            "http://127.0.0.2:80/callback",
            "http://localhost:80/callback",
            "https://127.0.0.1:80/callback",
            "http://127.0.0.1:80@evil.example/callback",
            "http://127.0.0.1:80#@evil.example/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:+80/callback",
            "http://127.0.0.1:999999/callback",
            "http://127.0.0.1:080/callback",
            "http://127.0.0.1.evil.example:80/callback",
        ] {
            assert!(r.matches(bad).is_none(), "{bad} must not match");
        }
    }

    #[test]
    fn other_registrations_match_exactly() {
        let r = reg("https://app.example/cb");
        assert!(r.matches("https://app.example/cb").is_some());
        assert!(r.matches("https://app.example:443/cb").is_none());
        assert!(r.matches("https://app.example:8443/cb").is_none());
    }
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_loopback_and_native_schemes() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:3000/cb",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_fragments_relative_plain_http_and_dangerous_schemes() {
        for bad in [
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb#",
            "/cb",
            "not a url",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "myapp:/cb",
            "https://user:pw@app.example.com/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }
}
