//! GET/POST /userinfo (OpenID Connect Core section 5.3) with a bearer token in the
//! Authorization header (RFC 6750 section 2.1).
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::oauth::OAuthError;

pub async fn userinfo(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let bearer = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(v), None) => {
            let v = v
                .to_str()
                .map_err(|_| OAuthError::InvalidToken("malformed Authorization header".into()))?;
            match v.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Some(token.trim().to_owned())
                }
                // Another scheme is no bearer token at all (RFC 6750 section 3.1).
                _ => return Err(OAuthError::MissingToken.into()),
            }
        }
        _ => return Err(OAuthError::invalid_request("repeated Authorization header").into()),
    };
    let claims = s.provider.userinfo(bearer.as_deref()).await?;
    let mut resp = Json(claims).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
