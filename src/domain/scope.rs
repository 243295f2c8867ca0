use std::collections::BTreeSet;
use std::fmt;

use super::ParseError;

/// One scope token (RFC 6749 section 3.3): `1*( %x21 / %x23-5B / %x5D-7E )`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeToken(String);

impl ScopeToken {
    pub const MAX_LEN: usize = 256;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(ParseError::new("scope tokens must be 1 to 256 characters"));
        }
        let ok = s
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(ParseError::new(format!(
                "scope token {s:?} contains a character RFC 6749 section 3.3 does not allow"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of scope tokens. Order and duplicates in the request carry no meaning (RFC 6749
/// section 3.3), so the set is kept sorted and renders as a space-delimited string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<ScopeToken>);

impl Scope {
    pub const MAX_TOKENS: usize = 64;

    /// Parses a space-delimited scope string. Several spaces between tokens are tolerated;
    /// any other whitespace is not.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            set.insert(ScopeToken::parse(token)?);
            if set.len() > Self::MAX_TOKENS {
                return Err(ParseError::new("too many scope tokens"));
            }
        }
        Ok(Self(set))
    }

    pub fn from_tokens(tokens: impl IntoIterator<Item = ScopeToken>) -> Self {
        Self(tokens.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t.as_str() == token)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ScopeToken> {
        self.0.iter()
    }

    /// The tokens of `self` that are not in `other`.
    pub fn difference(&self, other: &Scope) -> Scope {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    /// The tokens in both.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn union(&self, other: &Scope) -> Scope {
        Self(self.0.union(&other.0).cloned().collect())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let s = Scope::parse("write  read read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_forbidden_characters() {
        for bad in ["a\"b", "a\\b", "tab\there", "é", "new\nline"] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subset_and_difference() {
        let all = Scope::parse("a b c").unwrap();
        let some = Scope::parse("a c").unwrap();
        assert!(some.is_subset_of(&all));
        assert!(!all.is_subset_of(&some));
        assert_eq!(all.difference(&some).to_string(), "b");
    }
}
