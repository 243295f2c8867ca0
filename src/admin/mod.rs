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
/// characters, not blank.
pub(crate) fn validate_display_name(what: &str, s: &str) -> Result<String, AdminError> {
    if s.trim().is_empty() {
        return Err(AdminError::Invalid(format!("{what} must not be blank")));
    }
    if s.chars().count() > 200 {
        return Err(AdminError::Invalid(format!(
            "{what} is longer than 200 characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(s.to_owned())
}
