use url::Url;

use super::ParseError;

/// A resource indicator (RFC 8707 section 2): an absolute URI without a fragment. It
/// becomes the `aud` claim of the access token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceUri(String);

impl ResourceUri {
    pub const MAX_LEN: usize = 2000;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(ParseError::new("resource must be 1 to 2000 characters"));
        }
        let url = Url::parse(s)
            .map_err(|_| ParseError::new(format!("resource {s:?} is not an absolute URI")))?;
        if url.fragment().is_some() || s.contains('#') {
            return Err(ParseError::new(format!(
                "resource {s:?} must not contain a fragment"
            )));
        }
        if url.cannot_be_a_base() && !s.starts_with("urn:") {
            return Err(ParseError::new(format!(
                "resource {s:?} is not an absolute URI"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resource_indicators() {
        assert!(ResourceUri::parse("https://api.example.com").is_ok());
        assert!(ResourceUri::parse("urn:example:orders").is_ok());
        assert!(ResourceUri::parse("https://api.example.com/#x").is_err());
        assert!(ResourceUri::parse("orders").is_err());
        assert!(ResourceUri::parse("").is_err());
    }
}
