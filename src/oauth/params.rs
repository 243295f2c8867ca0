//! Request parameters (RFC 6749 section 3.1 and 3.2): each at most once, empty values treated
//! as omitted, sizes bounded. Parsing is from raw `application/x-www-form-urlencoded` bytes
//! or a query string; nothing here knows about HTTP types.
use std::collections::HashMap;

use super::error::OAuthError;

/// Parameters that RFC 8707 (`resource`) and RFC 8693 (`audience`) allow to repeat.
const MULTI_VALUED: &[&str] = &["resource", "audience"];
/// Longest accepted value; JWTs get more room (below).
const MAX_VALUE_LEN: usize = 4096;
/// Parameters that carry a JWT: client assertions, subject and actor tokens, and the
/// tokens this server issued and is handed back (`token` at introspection and revocation,
/// `id_token_hint`). They may be as long as any JWT this server parses, and an access token
/// with many scopes or audiences is longer than `MAX_VALUE_LEN`: refusing it at
/// introspection or revocation would leave a valid token that could be neither checked nor
/// revoked.
const JWT_PARAMS: &[&str] = &[
    "client_assertion",
    "assertion",
    "subject_token",
    "actor_token",
    "token",
    "id_token_hint",
];
const MAX_JWT_LEN: usize = crate::keys::MAX_TOKEN_LEN;
const MAX_PARAMS: usize = 64;

#[derive(Debug, Default, Clone)]
pub struct Params {
    single: HashMap<String, String>,
    multi: HashMap<String, Vec<String>>,
}

impl Params {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut me = Self::default();
        let mut count = 0usize;
        for (k, v) in form_urlencoded_pairs(body)? {
            count += 1;
            if count > MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            let limit = if JWT_PARAMS.contains(&k.as_str()) {
                MAX_JWT_LEN
            } else {
                MAX_VALUE_LEN
            };
            if v.len() > limit || k.len() > 128 {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} is too long",
                    printable(&k)
                )));
            }
            // No parameter of any protocol here may hold a NUL, and text columns of
            // PostgreSQL cannot store one: refused here, once, for every endpoint.
            if k.contains('\0') || v.contains('\0') {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {} contains a NUL character",
                    printable(&k)
                )));
            }
            // RFC 6749 section 3.1: "Parameters sent without a value MUST be treated as if
            // they were omitted from the request."
            if v.is_empty() {
                continue;
            }
            if MULTI_VALUED.contains(&k.as_str()) {
                me.multi.entry(k).or_default().push(v);
            } else {
                match me.single.entry(k) {
                    // RFC 6749 section 3.1: "Request and response parameters MUST NOT be
                    // included more than once."
                    std::collections::hash_map::Entry::Occupied(e) => {
                        return Err(OAuthError::invalid_request(format!(
                            "parameter {} is repeated",
                            printable(e.key())
                        )));
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(v);
                    }
                }
            }
        }
        Ok(me)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.multi.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Adds a parameter as if it had been in the request (used when merging a POSTed form
    /// with a stored request).
    pub fn insert(&mut self, name: &str, value: &str) {
        self.single.insert(name.to_owned(), value.to_owned());
    }
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// Decodes `application/x-www-form-urlencoded`, rejecting invalid percent-escapes and
/// invalid UTF-8 instead of replacing them.
fn form_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let mut out = Vec::new();
    for part in body.split(|b| *b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        out.push((decode_component(k)?, decode_component(v)?));
    }
    Ok(out)
}

/// Decodes one form-encoded component (`+` is a space, `%XX` a byte), refusing invalid
/// escapes and invalid UTF-8.
pub(crate) fn decode_component(raw: &[u8]) -> Result<String, OAuthError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw;
    // Runs without an escape (most of a token or an assertion) are copied whole.
    while let Some(at) = rest.iter().position(|&b| b == b'+' || b == b'%') {
        bytes.extend_from_slice(&rest[..at]);
        if rest[at] == b'+' {
            bytes.push(b' ');
            rest = &rest[at + 1..];
        } else {
            // Exactly two hex digits (no sign: `%+f` is malformed, not 0x0f).
            let byte = match rest.get(at + 1..at + 3) {
                Some(&[hi, lo]) => hex_digit(hi).zip(hex_digit(lo)).map(|(h, l)| h << 4 | l),
                _ => None,
            }
            .ok_or_else(|| OAuthError::invalid_request("malformed percent-encoding"))?;
            bytes.push(byte);
            rest = &rest[at + 3..];
        }
    }
    bytes.extend_from_slice(rest);
    String::from_utf8(bytes).map_err(|_| OAuthError::invalid_request("parameters must be UTF-8"))
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_refuses_malformed_ones() {
        assert_eq!(
            decode_component(b"a+b%20c%2Fd%c3%a9").unwrap(),
            "a b c/d\u{e9}"
        );
        assert_eq!(decode_component(b"").unwrap(), "");
        assert_eq!(decode_component(b"%41%4a%4A").unwrap(), "AJJ");
        for bad in [&b"%"[..], b"%4", b"%zz", b"%+f", b"%-1", b"% 1", b"ab%4"] {
            assert!(decode_component(bad).is_err(), "{bad:?}");
        }
        // Escaped bytes that are not UTF-8.
        assert!(decode_component(b"%ff").is_err());
    }

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"grant_type=client_credentials&scope=a+b%20c&empty=").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), Some("a b c"));
        assert_eq!(p.get("empty"), None);
    }

    #[test]
    fn rejects_duplicates_but_allows_repeated_resource() {
        assert!(Params::parse(b"scope=a&scope=b").is_err());
        let p = Params::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").unwrap();
        assert_eq!(p.all("resource").len(), 2);
    }

    #[test]
    fn rejects_bad_encoding_and_oversized_values() {
        assert!(Params::parse(b"a=%zz").is_err());
        assert!(Params::parse(b"a=%").is_err());
        assert!(Params::parse(b"a=%ff%fe").is_err());
        assert!(Params::parse(b"a=x%00y").is_err());
        assert!(Params::parse(b"a%00=x").is_err());
        let long = format!("scope={}", "a".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        // A JWT may be as long as any this server parses, and no longer.
        for name in JWT_PARAMS {
            let jwt = format!("{name}={}", "a".repeat(MAX_JWT_LEN));
            assert!(Params::parse(jwt.as_bytes()).is_ok(), "{name}");
            let longer = format!("{name}={}", "a".repeat(MAX_JWT_LEN + 1));
            assert!(Params::parse(longer.as_bytes()).is_err(), "{name}");
        }
        let many = (0..100)
            .map(|i| format!("p{i}=x"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(Params::parse(many.as_bytes()).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Hostile bodies never panic, and whatever parses obeys the limits.
        #[test]
        fn any_body_parses_or_is_invalid_request(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            match Params::parse(&body) {
                Ok(p) => {
                    for (k, v) in &p.single {
                        prop_assert!(!v.is_empty());
                        prop_assert!(!k.contains('\0') && !v.contains('\0'));
                        prop_assert!(k.len() <= 128);
                        prop_assert!(v.len() <= MAX_JWT_LEN);
                    }
                }
                Err(e) => prop_assert_eq!(e.code(), "invalid_request"),
            }
        }

        /// What a client form-encodes comes back unchanged.
        #[test]
        fn form_encoding_round_trips(
            pairs in proptest::collection::btree_map("[a-z_]{1,20}", "\\PC{1,40}", 0..10)
        ) {
            let body: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter())
                .finish();
            let p = Params::parse(body.as_bytes()).unwrap();
            for (k, v) in &pairs {
                if k == "resource" {
                    prop_assert_eq!(p.all(k), std::slice::from_ref(v));
                } else {
                    prop_assert_eq!(p.get(k), Some(v.as_str()));
                }
            }
        }
    }
}
