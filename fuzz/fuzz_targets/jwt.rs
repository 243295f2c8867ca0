//! JWT parsing: compact JWS splitting and decoding, signature verification against a JWK
//! Set (as for `private_key_jwt` assertions), and JWK Set parsing (as for a fetched
//! `jwks_uri`). Any input must be refused or accepted, never panic.
#![no_main]
use std::sync::OnceLock;

use latchkey::keys::{JwkSet, decode_unverified, parse_jwks, verify_with_jwks};
use libfuzzer_sys::fuzz_target;

/// A client's registered keys: one P-256 and one Ed25519 public key.
const JWKS: &str = r#"{"keys":[
  {"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
  {"kty":"OKP","crv":"Ed25519","kid":"k2","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fn jwks() -> &'static JwkSet {
    static SET: OnceLock<JwkSet> = OnceLock::new();
    SET.get_or_init(|| parse_jwks(JWKS).expect("the fixed JWKS parses"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decode_unverified(text);
    // Nothing the fuzzer makes can carry a valid signature by these keys.
    assert!(verify_with_jwks(text, jwks()).is_err());
    let _ = parse_jwks(text);
});
