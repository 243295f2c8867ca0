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
