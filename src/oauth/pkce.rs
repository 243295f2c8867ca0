//! PKCE verification (RFC 7636 section 4.6), S256 only: `plain` would let a code
//! interceptor redeem the code (RFC 9700 section 2.1.1).
use crate::crypto::{ct_eq, sha256_b64url};
use crate::domain::{CodeChallenge, CodeVerifier};

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge`, in constant time.
pub fn verify_s256(verifier: &CodeVerifier, challenge: &str) -> bool {
    ct_eq(
        sha256_b64url(verifier.as_str().as_bytes()).as_bytes(),
        challenge.as_bytes(),
    )
}

pub fn challenge_for(verifier: &CodeVerifier) -> CodeChallenge {
    CodeChallenge::parse(&sha256_b64url(verifier.as_str().as_bytes()))
        .expect("a SHA-256 digest in base64url is 43 characters")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let v = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert!(verify_s256(
            &v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verify_s256(
            &v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert_eq!(
            challenge_for(&v).as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
