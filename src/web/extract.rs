//! Extractors for OAuth POST endpoints: a form body parsed into `Params` (one value per
//! name, bounded size) plus the `Authorization` header. Every failure is `invalid_request`.
use axum::extract::{FromRequest, Request};
use axum::http::header;

use super::error::ApiError;
use crate::oauth::{OAuthError, Params};

/// Largest accepted form body.
const MAX_BODY: usize = 64 * 1024;

pub struct OAuthForm {
    pub params: Params,
    pub authorization: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let mut auth_values = headers.get_all(header::AUTHORIZATION).iter();
        let authorization = match (auth_values.next(), auth_values.next()) {
            (None, _) => None,
            (Some(v), None) => Some(
                v.to_str()
                    .map_err(|_| {
                        OAuthError::invalid_client("malformed Authorization header", true)
                    })?
                    .to_owned(),
            ),
            (Some(_), Some(_)) => {
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
