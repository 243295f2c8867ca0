//! One error enum for everything that can go wrong checking a request's token, each mapping to
//! an RFC 6750 answer (section 3): `invalid_token` 401, `insufficient_scope` 403, or a bare
//! 401 challenge when no token was sent.
use http::StatusCode;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    #[error("no bearer token in the request")]
    MissingToken,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token's algorithm is not accepted")]
    DisallowedAlgorithm,
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is not meant for this audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token lacks required scopes")]
    InsufficientScope { required: Vec<String> },
    #[error("the issuer's keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

impl VerifyError {
    /// The RFC 6750 error code, if the answer carries one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken | Self::KeysUnavailable(_) => None,
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            _ => Some("invalid_token"),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 section 3); `None` when the failure is not
    /// the caller's (keys unavailable).
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        let realm = quote(realm);
        match self {
            Self::KeysUnavailable(_) => None,
            Self::MissingToken => Some(format!("Bearer realm=\"{realm}\"")),
            Self::InsufficientScope { required } => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", \
                 error_description=\"{}\", scope=\"{}\"",
                self,
                quote(&required.join(" "))
            )),
            other => Some(format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{other}\""
            )),
        }
    }
}

/// Keeps a value inside a quoted-string: drops quotes, backslashes and control characters.
fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_rfc6750() {
        let e = VerifyError::InsufficientScope {
            required: vec!["orders:read".into()],
        };
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let h = e.www_authenticate("orders").unwrap();
        assert!(h.contains("error=\"insufficient_scope\""), "{h}");
        assert!(h.contains("scope=\"orders:read\""), "{h}");
        assert_eq!(
            VerifyError::MissingToken.www_authenticate("a\"b").unwrap(),
            "Bearer realm=\"ab\""
        );
        assert_eq!(VerifyError::Expired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(VerifyError::Expired.code(), Some("invalid_token"));
    }
}
