//! Time-based one-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) as authenticator apps
//! implement them: HMAC-SHA-1, 6 digits, 30-second steps, a 160-bit secret shown as base32
//! and as an `otpauth://` URI (the "Key Uri Format" the common apps read from a QR code).
//!
//! Pure computation: no storage, no clock (callers pass the time), no I/O.
use aws_lc_rs::hmac;

use crate::crypto::{ct_eq, random_bytes};

/// RFC 6238 section 4: X, the time step in seconds (the default the apps assume).
pub const PERIOD: i64 = 30;
/// Digits of a code (RFC 4226 section 5.3: at least 6).
pub const DIGITS: u32 = 6;
/// RFC 4226 section 4 R6 recommends 160 bits: the output size of HMAC-SHA-1.
pub const SECRET_LEN: usize = 20;
/// Steps accepted either side of the current one, for clock skew and the time it takes to
/// type a code (RFC 6238 section 5.2 recommends at most one step of network delay).
pub const SKEW_STEPS: i64 = 1;

/// The hash function of the HMAC. Authenticators use SHA-1; the others exist for the
/// RFC 6238 test vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    fn algorithm(self) -> hmac::Algorithm {
        match self {
            // RFC 4226 and the apps fix SHA-1; as a MAC keyed with a random secret it has no
            // known weakness.
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// RFC 4226 section 5.3: HMAC of the 8-byte big-endian counter, dynamic truncation, the
/// low `digits` decimal digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32, hash: Hash) -> u32 {
    let tag = hmac::sign(
        &hmac::Key::new(hash.algorithm(), key),
        &counter.to_be_bytes(),
    );
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    bin % 10u32.pow(digits)
}

/// RFC 6238 section 4.2: the time step containing `unix_time` (T0 = 0).
pub fn time_step(unix_time: i64) -> i64 {
    unix_time.div_euclid(PERIOD)
}

/// An authenticator's shared secret. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new secret from the system's CSPRNG.
    pub fn generate() -> Self {
        Self(random_bytes::<SECRET_LEN>())
    }

    /// The secret from its stored bytes; `None` unless exactly `SECRET_LEN` of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code for time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        let counter = u64::try_from(step).unwrap_or(0);
        format!(
            "{:0width$}",
            hotp(&self.0, counter, DIGITS, Hash::Sha1),
            width = DIGITS as usize
        )
    }

    /// The step within `SKEW_STEPS` of `unix_time` whose code is `code`, if any. Spaces in
    /// the input are ignored (apps show codes as "123 456"). Every candidate is compared, in
    /// constant time, whatever matched.
    pub fn matching_step(&self, code: &str, unix_time: i64) -> Option<i64> {
        let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = time_step(unix_time);
        let mut found = None;
        for step in (now - SKEW_STEPS)..=(now + SKEW_STEPS) {
            if step >= 0 && ct_eq(self.code_at_step(step).as_bytes(), typed.as_bytes()) {
                found = Some(step);
            }
        }
        found
    }

    /// RFC 4648 section 6 base32, upper case, without padding (what the apps accept).
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The base32 text in groups of four characters, for typing it in by hand.
    pub fn base32_grouped(&self) -> String {
        let text = self.base32();
        text.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `otpauth://totp/ISSUER:ACCOUNT?...` URI an app reads from a QR code: the label
    /// names the issuer and the account, and `issuer` repeats it (Key Uri Format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
            enc(issuer),
            enc(account),
            self.base32(),
            enc(issuer),
        )
    }
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";

    /// RFC 4226 appendix D: HOTP values for counters 0 to 9.
    #[test]
    fn rfc4226_test_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp(SEED20, counter as u64, 6, Hash::Sha1), want);
        }
    }

    /// RFC 6238 appendix B: 8-digit TOTP values for SHA-1, SHA-256 and SHA-512.
    #[test]
    fn rfc6238_test_vectors() {
        let seed32 = b"12345678901234567890123456789012";
        let seed64 = b"1234567890123456789012345678901234567890123456789012345678901234";
        let table: [(i64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (t, sha1, sha256, sha512) in table {
            let step = time_step(t) as u64;
            assert_eq!(hotp(SEED20, step, 8, Hash::Sha1), sha1, "SHA-1 at {t}");
            assert_eq!(
                hotp(seed32, step, 8, Hash::Sha256),
                sha256,
                "SHA-256 at {t}"
            );
            assert_eq!(
                hotp(seed64, step, 8, Hash::Sha512),
                sha512,
                "SHA-512 at {t}"
            );
        }
    }

    #[test]
    fn six_digit_codes_keep_leading_zeros() {
        // RFC 6238 appendix B at T = 1111111109 gives 07081804; its 6 low digits are 081804.
        let s = TotpSecret::from_bytes(SEED20).unwrap();
        assert_eq!(s.code_at_step(time_step(1111111109)), "081804");
    }

    #[test]
    fn accepts_one_step_either_side_and_no_further() {
        let s = TotpSecret::from_bytes(SEED20).unwrap();
        let now = 1_700_000_000;
        let step = time_step(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = s.code_at_step(step + offset);
            let got = s.matching_step(&code, now);
            if accepted {
                assert_eq!(got, Some(step + offset), "offset {offset}");
            } else {
                // A code of a far step could collide with a near one by chance (1 in 10^6);
                // these fixed values do not.
                assert_eq!(got, None, "offset {offset}");
            }
        }
    }

    #[test]
    fn rejects_malformed_codes() {
        let s = TotpSecret::from_bytes(SEED20).unwrap();
        let now = 59;
        let good = s.code_at_step(time_step(now));
        assert_eq!(s.matching_step(&good, now), Some(1));
        let spaced = format!("{} {}", &good[..3], &good[3..]);
        assert_eq!(s.matching_step(&spaced, now), Some(1));
        for bad in [
            "",
            "12345",
            "1234567",
            "abcdef",
            "１２３４５６",
            &format!("{good}0"),
        ] {
            assert_eq!(s.matching_step(bad, now), None, "{bad:?}");
        }
        // Another secret's code does not match.
        let other = TotpSecret::from_bytes(&[7; SECRET_LEN]).unwrap();
        assert_ne!(other.code_at_step(1), good);
        assert_eq!(other.matching_step(&good, now), None);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 section 10, without padding.
        for (input, want) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), want);
        }
        let s = TotpSecret::from_bytes(SEED20).unwrap();
        assert_eq!(s.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            s.base32_grouped(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let s = TotpSecret::from_bytes(SEED20).unwrap();
        assert_eq!(
            s.otpauth_uri("Example Co", "alice@example.com"),
            "otpauth://totp/Example%20Co:alice%40example%2Ecom?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Co&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let a = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), 20);
        assert_ne!(a, TotpSecret::generate());
        assert_eq!(format!("{a:?}"), "TotpSecret(<redacted>)");
    }
}
