//! Recovery codes: ten single-use codes a person keeps on paper for the day their
//! authenticator is lost. Each is 12 characters of Crockford's base32 (60 bits from the
//! CSPRNG), shown as `xxxx-xxxx-xxxx`: no i, l, o or u to misread, case, spaces and dashes
//! ignored when typed. Stored only as keyed hashes bound to the person.
use crate::crypto::{SecretHasher, random_bytes};

/// How many codes a person gets at a time.
pub const COUNT: usize = 10;
/// Characters per code (5 bits each: 60 bits).
const LEN: usize = 12;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `COUNT` new codes, formatted for display.
pub fn generate() -> Vec<String> {
    (0..COUNT).map(|_| one()).collect()
}

fn one() -> String {
    // 256 is a multiple of 32, so taking 5 bits of each byte is unbiased.
    let raw = random_bytes::<LEN>();
    let chars: String = raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// The canonical form of a typed code, or `None` when it cannot be one: lower case, without
/// spaces and dashes, with the look-alikes i/l read as 1 and o as 0 (Crockford's rules).
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_lowercase() {
            ' ' | '-' | '\t' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || out.len() == LEN {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

/// Whether the input has the shape of a recovery code rather than an authenticator code.
pub fn looks_like_recovery_code(typed: &str) -> bool {
    normalize(typed).is_some()
}

/// The stored form: a keyed hash of the canonical code, bound to the user (the same code
/// for another person is another hash).
pub fn hash(hasher: &SecretHasher, user_id: &str, canonical: &str) -> String {
    hasher.hash(&format!("recovery-code\n{user_id}\n{canonical}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn generates_ten_distinct_well_formed_codes() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut set = std::collections::HashSet::new();
        for c in &codes {
            assert_eq!(c.len(), 14, "{c}");
            assert_eq!(c.matches('-').count(), 2, "{c}");
            let canonical = normalize(c).expect("a generated code normalises");
            assert_eq!(canonical, c.replace('-', ""));
            assert!(set.insert(canonical));
        }
    }

    #[test]
    fn normalisation_forgives_case_spaces_and_look_alikes() {
        assert_eq!(normalize("ABCD-EFGH-JK01").as_deref(), Some("abcdefghjk01"));
        assert_eq!(
            normalize(" abcd efgh jkOI ").as_deref(),
            Some("abcdefghjk01")
        );
        assert_eq!(normalize("abcdefghjkol").as_deref(), Some("abcdefghjk01"));
        for bad in [
            "",
            "abcd-efgh-jk0",
            "abcd-efgh-jk012",
            "abcd-efgh-jku1",
            "123456",
            "abcd-efgh-jkü1",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert!(!looks_like_recovery_code("123456"));
    }

    #[test]
    fn hashes_are_bound_to_the_user() {
        let h = SecretHasher::new(&MasterKey::from_bytes([3; 32]));
        let a = hash(&h, "user-a", "abcdefghjk01");
        assert_eq!(a, hash(&h, "user-a", "abcdefghjk01"));
        assert_ne!(a, hash(&h, "user-b", "abcdefghjk01"));
        assert_ne!(a, hash(&h, "user-a", "abcdefghjk02"));
    }
}
