use url::Url;

use super::ParseError;

/// A registered redirection endpoint (RFC 6749 section 3.1.2): an absolute URI without a
/// fragment. Plain `http` is allowed only for loopback hosts (RFC 8252 section 7.3); custom
/// schemes for native apps (RFC 8252 section 7.1) must contain a period.
///
/// Matching against the request is by exact string comparison (RFC 9700 section 4.1.3), so
/// the registered text is kept as given.
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
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
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
