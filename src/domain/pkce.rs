use super::ParseError;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn check(s: &str, what: &str) -> Result<(), ParseError> {
    // RFC 7636 section 4.1 and 4.2: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" /
    // "." / "_" / "~".
    if !(43..=128).contains(&s.len()) || !s.bytes().all(is_unreserved) {
        return Err(ParseError::new(format!(
            "{what} must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4)"
        )));
    }
    Ok(())
}

/// An S256 code challenge (RFC 7636 section 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check(s, "code_challenge")?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A code verifier (RFC 7636 section 4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check(s, "code_verifier")?;
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
    fn length_and_alphabet_are_enforced() {
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(128)).is_ok());
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeChallenge::parse(&format!("{}+", "a".repeat(43))).is_err());
    }
}
