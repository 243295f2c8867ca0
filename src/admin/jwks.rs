//! Checks on the key material a `private_key_jwt` client registers (RFC 7523, RFC 7591
//! section 2: `jwks` and `jwks_uri` are mutually exclusive).
use serde_json::Value;
use url::Url;

use super::AdminError;

/// Largest JWK Set document accepted from a file.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// JWK members that only a private or symmetric key has (RFC 7518 sections 6.2.2, 6.3.2
/// and 6.4.1; RFC 8037 section 2). A client must register public keys only.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Parses a JWK Set document: a JSON object whose `keys` is a non-empty array of public
/// keys (RFC 7517 section 5). Returns it re-serialised compactly.
pub(crate) fn validate_jwks(text: &str) -> Result<String, AdminError> {
    if text.len() > MAX_JWKS_BYTES {
        return Err(AdminError::invalid("JWKS file is larger than 64 KiB"));
    }
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| AdminError::Invalid(format!("JWKS file is not valid JSON: {e}")))?;
    let keys = doc
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            AdminError::invalid("JWKS file must be a JSON object with a \"keys\" array")
        })?;
    if keys.is_empty() {
        return Err(AdminError::invalid("JWKS file has an empty \"keys\" array"));
    }
    for (i, key) in keys.iter().enumerate() {
        let obj = key
            .as_object()
            .ok_or_else(|| AdminError::Invalid(format!("JWKS key #{i} is not a JSON object")))?;
        let label = match obj.get("kid").and_then(Value::as_str) {
            Some(kid) => format!("JWKS key #{i} (kid {kid:?})"),
            None => format!("JWKS key #{i}"),
        };
        match obj.get("kty").and_then(Value::as_str) {
            Some("RSA" | "EC" | "OKP") => {}
            Some("oct") => {
                return Err(AdminError::Invalid(format!(
                    "{label} is a symmetric (oct) key; register public keys only"
                )));
            }
            Some(other) => {
                return Err(AdminError::Invalid(format!(
                    "{label} has unsupported kty {other:?} (expected RSA, EC or OKP)"
                )));
            }
            None => return Err(AdminError::Invalid(format!("{label} has no \"kty\""))),
        }
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(AdminError::Invalid(format!(
                "{label} contains the private member {m:?}; register public keys only"
            )));
        }
    }
    serde_json::to_string(&doc).map_err(|e| AdminError::Internal(e.into()))
}

/// A `jwks_uri` must be fetched over TLS, except on loopback for local development.
pub(crate) fn parse_jwks_uri(s: &str) -> Result<Url, AdminError> {
    let url = Url::parse(s)
        .map_err(|e| AdminError::Invalid(format!("JWKS URI {s:?} is not an absolute URL: {e}")))?;
    if url.fragment().is_some() {
        return Err(AdminError::Invalid(format!(
            "JWKS URI {s:?} must not contain a fragment"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AdminError::Invalid(format!(
            "JWKS URI {s:?} must not contain user information"
        )));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if crate::keys::is_loopback_host(&url) => Ok(url),
        "http" => Err(AdminError::Invalid(format!(
            "JWKS URI {s:?} must use https (http is allowed only for loopback hosts)"
        ))),
        _ => Err(AdminError::Invalid(format!(
            "JWKS URI {s:?} must be an https URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_PUBLIC: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

    #[test]
    fn accepts_public_keys_and_compacts_them() {
        let out = validate_jwks(EC_PUBLIC).unwrap();
        assert!(out.starts_with(r#"{"keys":[{"#));
        assert!(!out.contains('\n'));
    }

    #[test]
    fn rejects_private_symmetric_empty_and_malformed_sets() {
        let private = EC_PUBLIC.replace(r#""kid":"k1","#, r#""kid":"k1","d":"secret","#);
        for bad in [
            private.as_str(),
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
            r#"{"keys":[]}"#,
            r#"{"keys":[{"crv":"P-256"}]}"#,
            r#"{"keys":{}}"#,
            r#"[]"#,
            "not json",
        ] {
            assert!(
                matches!(validate_jwks(bad), Err(AdminError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn jwks_uri_must_be_https_or_loopback_http() {
        assert!(parse_jwks_uri("https://client.example.com/jwks.json").is_ok());
        assert!(parse_jwks_uri("http://127.0.0.1:9000/jwks").is_ok());
        assert!(parse_jwks_uri("http://localhost/jwks").is_ok());
        for bad in [
            "http://client.example.com/jwks",
            "ftp://client.example.com/jwks",
            "https://client.example.com/jwks#k",
            "/jwks",
        ] {
            assert!(parse_jwks_uri(bad).is_err(), "{bad}");
        }
    }
}
