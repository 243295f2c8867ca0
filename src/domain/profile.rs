use super::ParseError;

/// An email address as a person or operator may set it: something on both sides of the
/// last '@', no whitespace or control characters, at most 254 characters (RFC 5321 section
/// 4.5.3.1.3). Deliberately loose: only a message that arrives proves an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError(format!("email {s:?} is not a valid address"));
        if s.len() > Self::MAX_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        match s.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                Ok(Self(s.to_owned()))
            }
            _ => Err(bad()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A name for display (a person's or a client's): 1 to 200 characters, not blank, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 200;

    /// `what` names the field in the message ("name", "client name").
    pub fn parse(what: &str, s: &str) -> Result<Self, ParseError> {
        if s.trim().is_empty() {
            return Err(ParseError(format!("{what} must not be blank")));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ParseError(format!(
                "{what} is longer than {} characters",
                Self::MAX_CHARS
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError(format!(
                "{what} must not contain control characters"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A password someone chooses: 8 to 1024 characters (NIST SP 800-63B section 5.1.1.2: a
/// minimum length, no composition rules; the maximum bounds the cost of hashing).
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let len = s.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(ParseError(format!(
                "password must be {} to {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        assert!(EmailAddress::parse("a@b").is_ok());
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@b\n",
            &format!("{}@b", "a".repeat(253)),
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_names() {
        assert!(DisplayName::parse("name", "Alice Example").is_ok());
        assert!(DisplayName::parse("name", &"é".repeat(200)).is_ok());
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(201)] {
            assert!(DisplayName::parse("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_have_a_length_and_no_other_rule() {
        assert!(NewPassword::parse("12345678").is_ok());
        assert!(NewPassword::parse("ääääääää").is_ok());
        assert!(NewPassword::parse("1234567").is_err());
        assert!(NewPassword::parse(&"x".repeat(1025)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("secret-secret").unwrap()),
            "NewPassword(<redacted>)"
        );
    }
}
