//! GET/POST /userinfo (OpenID Connect Core section 5.3) with a bearer token in the
//! Authorization header (RFC 6750 section 2.1).
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::extract::{AuthorizationProblem, authorization, no_store};
use crate::oauth::OAuthError;

pub async fn userinfo(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let bearer = match authorization(&headers) {
        Ok(None) => None,
        Ok(Some(v)) => match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
            // Another scheme is no bearer token at all (RFC 6750 section 3.1).
            _ => return Err(OAuthError::MissingToken.into()),
        },
        Err(AuthorizationProblem::Malformed) => {
            return Err(OAuthError::InvalidToken("malformed Authorization header".into()).into());
        }
        Err(AuthorizationProblem::Repeated) => {
            return Err(OAuthError::invalid_request("repeated Authorization header").into());
        }
    };
    let claims = s.provider.userinfo(bearer).await?;
    Ok(no_store(Json(claims).into_response()))
}
