use super::ParseError;

/// A client identifier (RFC 6749 section 2.2): 1 to 128 visible ASCII characters (VSCHAR,
/// appendix A.1), excluding ':' which would break HTTP Basic authentication.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Err(ParseError::new("client id must not be empty"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(ParseError::new("client id is longer than 128 characters"));
        }
        if !s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b':') {
            return Err(ParseError::new(
                "client id may contain only visible ASCII characters other than ':'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_ids() {
        for id in ["svc-a", "my.app_1", "Z", &"a".repeat(128)] {
            assert!(ClientId::parse(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_empty_long_spaces_colons_and_non_ascii() {
        for id in ["", " a", "a b", "a:b", "é", "a\n", &"a".repeat(129)] {
            assert!(ClientId::parse(id).is_err(), "{id:?}");
        }
    }
}
