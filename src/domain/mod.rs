//! Newtypes that parse, not validate: a value of one of these types is known to be well formed.
//! Nothing here performs I/O or knows about HTTP or storage.
mod auth_method;
mod client_id;
mod grant_type;
mod pkce;
mod profile;
mod redirect_uri;
mod resource;
mod scope;
mod signing_alg;

pub use auth_method::AuthMethod;
pub use client_id::ClientId;
pub use grant_type::GrantType;
pub use pkce::{CodeChallenge, CodeVerifier};
pub use profile::{DisplayName, EmailAddress, NewPassword};
pub use redirect_uri::RedirectUri;
pub use resource::ResourceUri;
pub use scope::{Scope, ScopeToken};
pub use signing_alg::SigningAlg;

/// Why a value failed to parse; the text is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn scope_parses_or_errors_and_round_trips(s in "\\PC{0,200}") {
            if let Ok(scope) = Scope::parse(&s) {
                let again = Scope::parse(&scope.to_string()).unwrap();
                prop_assert_eq!(again, scope);
            }
        }

        #[test]
        fn redirect_uris_never_keep_a_fragment(s in "\\PC{0,200}") {
            if let Ok(uri) = RedirectUri::parse(&s) {
                prop_assert!(!uri.as_str().contains('#'));
            }
        }

        /// Every parsed scope token is within RFC 6749 section 3.3's alphabet, and every
        /// token of that alphabet parses.
        #[test]
        fn scope_tokens_are_exactly_the_rfc_alphabet(s in "[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,64}", bad in "[\\x00-\\x20\\x22\\x5c\\x7f\\u{80}-\\u{10ffff}]") {
            let token = ScopeToken::parse(&s).unwrap();
            prop_assert_eq!(token.as_str(), s.as_str());
            let at = s.len() / 2;
            let spoiled = format!("{}{}{}", &s[..at], bad, &s[at..]);
            if bad != " " {
                prop_assert!(ScopeToken::parse(&spoiled).is_err());
            }
        }

        /// Accepted redirect URIs are kept byte for byte (exact matching), never carry a
        /// fragment or user information, and are never script or data URIs.
        #[test]
        fn accepted_redirect_uris_are_kept_exactly_and_are_safe(s in "(https|http|javascript|data|com\\.example\\.app|[a-z]{1,6}):(//)?([a-z0-9@:.%\\[\\]]{0,30})(/[!-~]{0,40})?") {
            if let Ok(uri) = RedirectUri::parse(&s) {
                prop_assert_eq!(uri.as_str(), s.as_str());
                let url = url::Url::parse(&s).unwrap();
                prop_assert!(url.fragment().is_none());
                prop_assert!(url.username().is_empty() && url.password().is_none());
                prop_assert!(!matches!(url.scheme(), "javascript" | "data" | "file"));
                if url.scheme() == "http" {
                    let host = url.host_str().unwrap_or("");
                    prop_assert!(
                        host == "localhost" || host.starts_with("127.") || host == "[::1]",
                        "http only for loopback, got {}", host
                    );
                }
            }
        }

        /// PKCE values: exactly 43 to 128 unreserved characters (RFC 7636 section 4.1).
        #[test]
        fn pkce_values_are_exactly_43_to_128_unreserved_characters(
            good in "[A-Za-z0-9._~-]{43,128}",
            short in "[A-Za-z0-9._~-]{0,42}",
            long in "[A-Za-z0-9._~-]{129,200}",
            bad in "[^A-Za-z0-9._~-]",
        ) {
            let verifier = CodeVerifier::parse(&good).unwrap();
            prop_assert_eq!(verifier.as_str(), good.as_str());
            prop_assert!(CodeChallenge::parse(&good).is_ok());
            prop_assert!(CodeVerifier::parse(&short).is_err());
            prop_assert!(CodeVerifier::parse(&long).is_err());
            let spoiled = format!("{}{}", &good[..42], bad);
            prop_assert!(CodeVerifier::parse(&spoiled).is_err());
            prop_assert!(CodeChallenge::parse(&spoiled).is_err());
        }

        /// Client ids: visible ASCII without ':' (safe in Basic credentials, logs and
        /// keys), 1 to 128 characters.
        #[test]
        fn client_ids_are_visible_ascii_without_colons(s in "\\PC{0,200}") {
            match ClientId::parse(&s) {
                Ok(id) => {
                    prop_assert_eq!(id.as_str(), s.as_str());
                    prop_assert!((1..=128).contains(&s.len()));
                    prop_assert!(s.bytes().all(|b| b.is_ascii_graphic() && b != b':'));
                }
                Err(_) => prop_assert!(
                    s.is_empty() || s.len() > 128 || s.bytes().any(|b| !b.is_ascii_graphic() || b == b':')
                ),
            }
        }

        #[test]
        fn other_newtypes_never_panic(s in "\\PC{0,300}") {
            let _ = ClientId::parse(&s);
            let _ = ResourceUri::parse(&s);
            let _ = CodeChallenge::parse(&s);
            let _ = CodeVerifier::parse(&s);
            let _ = GrantType::parse(&s);
            let _ = AuthMethod::parse(&s);
            let _ = SigningAlg::parse(&s);
        }
    }
}
