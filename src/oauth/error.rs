//! The protocol's one error type. Each variant is an error code of RFC 6749 section 5.2 (or
//! of the RFC that defines it); the text in each is safe to send to the client. Internal
//! failures carry their cause for the log and are shown only as `server_error`.

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// RFC 6749 section 5.2: missing, duplicated, malformed or unsupported parameter.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 section 5.2: client authentication failed. `basic` records whether the client
    /// tried the Authorization header, which requires a 401 with `WWW-Authenticate`.
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic: bool },
    /// RFC 6749 section 5.2: the grant (code, refresh token, ...) is invalid, expired,
    /// revoked, or was issued to another client or redirect URI.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// RFC 6749 section 5.2: the client may not use this grant type.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// RFC 6749 section 5.2.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// RFC 6749 section 5.2: the scope is malformed or exceeds what the client may have.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 8707 section 2: the resource is malformed or not allowed for this client.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// RFC 6749 section 4.1.2.1.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 6749 section 4.1.2.1.
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    /// RFC 7009 section 2.2.1.
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    /// OpenID Connect Core section 3.1.2.6.
    #[error("login_required: {0}")]
    LoginRequired(String),
    /// OpenID Connect Core section 3.1.2.6.
    #[error("consent_required: {0}")]
    ConsentRequired(String),
    /// OpenID Connect Core section 3.1.2.6: the request needs the person's interaction
    /// (here: a second factor) and `prompt=none` forbids it.
    #[error("interaction_required: {0}")]
    InteractionRequired(String),
    /// OpenID Connect Core section 6.1: the `request` parameter is not supported.
    #[error("request_not_supported: {0}")]
    RequestNotSupported(String),
    /// OpenID Connect Core section 6.2: the `request_uri` parameter is not supported.
    #[error("request_uri_not_supported: {0}")]
    RequestUriNotSupported(String),
    /// RFC 6750 section 3.1: the request carries no bearer token at all; the answer names
    /// no error code.
    #[error("no bearer token")]
    MissingToken,
    /// RFC 6750 section 3.1: the bearer token is expired, revoked or malformed.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// RFC 6750 section 3.1: the token lacks a scope the resource needs.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// RFC 6749 section 4.1.2.1: an unexpected condition; the cause is logged, not shown.
    #[error("server_error")]
    Internal(#[from] anyhow::Error),
}

impl OAuthError {
    /// The RFC error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::AccessDenied(_) => "access_denied",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::LoginRequired(_) => "login_required",
            Self::ConsentRequired(_) => "consent_required",
            Self::InteractionRequired(_) => "interaction_required",
            Self::RequestNotSupported(_) => "request_not_supported",
            Self::RequestUriNotSupported(_) => "request_uri_not_supported",
            Self::MissingToken => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            // RFC 6749 section 4.1.2.1: the server is temporarily unable to handle the
            // request.
            Self::Internal(_) if self.is_unavailable() => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }

    /// An internal error caused by the database being out of reach: worth a retry.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Internal(e) => e
                .chain()
                .any(|c| c.is::<super::ports::StorageUnavailable>()),
            _ => false,
        }
    }

    /// The `error_description`, safe to show.
    pub fn description(&self) -> Option<String> {
        match self {
            Self::InvalidClient { description, .. } => Some(description.clone()),
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::AccessDenied(d)
            | Self::UnsupportedResponseType(d)
            | Self::UnsupportedTokenType(d)
            | Self::LoginRequired(d)
            | Self::ConsentRequired(d)
            | Self::InteractionRequired(d)
            | Self::RequestNotSupported(d)
            | Self::RequestUriNotSupported(d)
            | Self::InvalidToken(d)
            | Self::InsufficientScope(d) => (!d.is_empty()).then(|| d.clone()),
            Self::Internal(_) | Self::MissingToken => None,
        }
    }

    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }

    pub fn invalid_client(msg: impl Into<String>, basic: bool) -> Self {
        Self::InvalidClient {
            description: msg.into(),
            basic,
        }
    }

    pub fn invalid_grant(msg: impl Into<String>) -> Self {
        Self::InvalidGrant(msg.into())
    }
}

pub type OAuthResult<T> = Result<T, OAuthError>;
