//! Operator tasks behind the CLI: registering clients and users, rotating secrets. Input
//! arrives as plain strings and is parsed through the `domain` types here, so every rule is
//! checked before anything is written; an invalid request changes nothing.
//!
//! No clap types and no sea_orm here: `cli` maps arguments into these structs and prints
//! the results; `store` does the writing.
pub mod clients;
pub mod exchange;
mod jwks;
pub mod users;

/// Why an operator request failed. The messages are one line, meant to be printed as is.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input breaks a rule; nothing was written.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Duplicate(String),
    /// Storage or another infrastructure failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AdminError {
    pub(crate) fn invalid(msg: impl std::fmt::Display) -> Self {
        Self::Invalid(msg.to_string())
    }
}

/// Text fields for display (client and user names): 1 to 200 characters, no control
/// characters, not blank (`domain::DisplayName`).
pub(crate) fn validate_display_name(what: &str, s: &str) -> Result<String, AdminError> {
    crate::domain::DisplayName::parse(what, s)
        .map(crate::domain::DisplayName::into_string)
        .map_err(|e| AdminError::Invalid(e.0))
}
