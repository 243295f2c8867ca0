//! Extractors for OAuth POST endpoints: a form body parsed into `Params` (one value per
//! name, bounded size) plus the `Authorization` header. Every failure is `invalid_request`.
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::error::ApiError;
use crate::oauth::{OAuthError, Params};

/// Largest accepted form body, for the OAuth endpoints and the pages' forms alike.
pub const MAX_BODY: usize = 64 * 1024;

/// Whether the body is declared `application/x-www-form-urlencoded` (any parameters, such
/// as a charset, after it).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Why the `Authorization` header could not be read.
pub enum AuthorizationProblem {
    /// Sent more than once: which one counts would be a guess.
    Repeated,
    /// Not visible ASCII.
    Malformed,
}

/// The one `Authorization` header of a request, if any.
pub fn authorization(headers: &HeaderMap) -> Result<Option<&str>, AuthorizationProblem> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v
            .to_str()
            .map(Some)
            .map_err(|_| AuthorizationProblem::Malformed),
        (Some(_), Some(_)) => Err(AuthorizationProblem::Repeated),
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 section 5.1), for anything that
/// carries tokens, codes or personal data.
pub fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

pub struct OAuthForm {
    pub params: Params,
    pub authorization: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        if !is_form(headers) {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let authorization = match authorization(headers) {
            Ok(value) => value.map(str::to_owned),
            Err(AuthorizationProblem::Malformed) => {
                return Err(
                    OAuthError::invalid_client("malformed Authorization header", true).into(),
                );
            }
            Err(AuthorizationProblem::Repeated) => {
                return Err(OAuthError::invalid_request("repeated Authorization header").into());
            }
        };
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| OAuthError::invalid_request("the request body is too large"))?;
        let params = Params::parse(&body)?;
        Ok(Self {
            params,
            authorization,
        })
    }
}
