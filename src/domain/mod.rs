//! Newtypes that parse, not validate: a value of one of these types is known to be well formed.
//! Nothing here performs I/O or knows about HTTP or storage.
mod auth_method;
mod client_id;
mod grant_type;
mod pkce;
mod redirect_uri;
mod resource;
mod scope;
mod signing_alg;

pub use auth_method::AuthMethod;
pub use client_id::ClientId;
pub use grant_type::GrantType;
pub use pkce::{CodeChallenge, CodeVerifier};
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
