//! axum integration: the [`RequireBearer`] tower layer checks every request's bearer token
//! (and required scopes) and puts the [`Claims`] in the request extensions; the
//! [`Authenticated`] extractor reads them (or, without the layer, verifies the token with a
//! [`Verifier`] found in the extensions). Failures answer per RFC 6750.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};

use crate::{Claims, Verifier, VerifyError};

/// The bearer token of a request (RFC 6750 section 2.1), if it sent one.
fn bearer(headers: &HeaderMap) -> Result<&str, VerifyError> {
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(VerifyError::MissingToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(VerifyError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(VerifyError::MissingToken);
    }
    match token.trim() {
        "" => Err(VerifyError::Malformed),
        t => Ok(t),
    }
}

/// An RFC 6750 error answer: status, `WWW-Authenticate` challenge, JSON body with the code.
pub(crate) fn reject(e: &VerifyError, realm: &str) -> Response {
    let body = match e.code() {
        Some(code) => serde_json::json!({"error": code, "error_description": e.to_string()}),
        None if matches!(e, VerifyError::KeysUnavailable(_)) => {
            serde_json::json!({"error": "temporarily_unavailable"})
        }
        None => serde_json::json!({}),
    };
    let mut resp = (e.status(), axum::Json(body)).into_response();
    if let Some(h) = e
        .www_authenticate(realm)
        .and_then(|h| HeaderValue::from_str(&h).ok())
    {
        resp.headers_mut().insert(WWW_AUTHENTICATE, h);
    }
    resp
}

impl IntoResponse for VerifyError {
    fn into_response(self) -> Response {
        reject(&self, "api")
    }
}

async fn check(
    verifier: &Verifier,
    headers: &HeaderMap,
    scopes: &[String],
) -> Result<Claims, Response> {
    let realm = verifier.config().audience.as_str();
    let result = async {
        let claims = verifier.verify(bearer(headers)?).await?;
        claims.require_scopes(scopes)?;
        Ok(claims)
    };
    result.await.map_err(|e: VerifyError| reject(&e, realm))
}

/// A tower layer admitting only requests with a valid access token holding `scopes`.
#[derive(Clone)]
pub struct RequireBearer {
    verifier: Verifier,
    scopes: Arc<[String]>,
}

impl RequireBearer {
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            scopes: Arc::from([]),
        }
    }

    /// Scopes every request's token must hold (all of them).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl<S> tower_layer::Layer<S> for RequireBearer {
    type Service = RequireBearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireBearerService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequireBearerService<S> {
    inner: S,
    layer: RequireBearer,
}

impl<S> tower_service::Service<Request> for RequireBearerService<S>
where
    S: tower_service::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match check(&layer.verifier, req.headers(), &layer.scopes).await {
                Ok(claims) => {
                    req.extensions_mut().insert(claims);
                    req.extensions_mut().insert(layer.verifier.clone());
                    inner.call(req).await
                }
                Err(resp) => Ok(resp),
            }
        })
    }
}

/// The verified claims of the request's access token.
///
/// Behind [`RequireBearer`] it takes the layer's result; otherwise it verifies the bearer
/// token itself with the [`Verifier`] in the request extensions (add it with
/// `axum::Extension(verifier)`). Check scopes with [`Claims::require_scopes`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        if let Some(claims) = parts.extensions.get::<Claims>() {
            return Ok(Self(claims.clone()));
        }
        let Some(verifier) = parts.extensions.get::<Verifier>().cloned() else {
            tracing::error!("Authenticated used without RequireBearer or a Verifier extension");
            return Err(http::StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let claims = check(&verifier, &parts.headers, &[]).await?;
        parts.extensions.insert(claims.clone());
        Ok(Self(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), Err(VerifyError::MissingToken));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic dTpw"));
        assert_eq!(bearer(&h), Err(VerifyError::MissingToken));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer   "));
        assert_eq!(bearer(&h), Err(VerifyError::Malformed));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
        assert_eq!(bearer(&h), Ok("abc.def"));
    }
}
