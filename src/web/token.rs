//! POST /token (RFC 6749 section 3.2), /introspect (RFC 7662), /revoke (RFC 7009).
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::{OAuthForm, no_store};
use super::{AppState, ClientAddr};

pub async fn token(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let provider = Arc::clone(&s.provider);
    let resp = provider
        .token(form.authorization.as_deref(), &form.params, ip)
        .await?;
    Ok(no_store(Json(resp).into_response()))
}

pub async fn introspect(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let info = s
        .provider
        .introspect(form.authorization.as_deref(), &form.params, ip)
        .await?;
    Ok(no_store(Json(info).into_response()))
}

pub async fn revoke(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    s.provider
        .revoke(form.authorization.as_deref(), &form.params, ip)
        .await?;
    Ok(no_store(().into_response()))
}
