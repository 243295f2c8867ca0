//! One file per grant type (RFC 6749 section 4 and 6).
pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod subject_token;
pub mod token_exchange;
pub mod user_tokens;

use super::error::{OAuthError, OAuthResult};
use super::model::Client;
use super::params::Params;
use crate::domain::{ResourceUri, Scope};

/// The requested scope, checked against what the client may have. No `scope` parameter
/// means `default` (RFC 6749 section 3.3 lets the server pick a documented default).
pub fn requested_scope(params: &Params, allowed: &Scope, default: &Scope) -> OAuthResult<Scope> {
    let Some(raw) = params.get("scope") else {
        return Ok(default.clone());
    };
    let scope = Scope::parse(raw).map_err(|e| OAuthError::InvalidScope(e.to_string()))?;
    let extra = scope.difference(allowed);
    if !extra.is_empty() {
        return Err(OAuthError::InvalidScope(format!(
            "scope not allowed for this client: {extra}"
        )));
    }
    Ok(scope)
}

/// The `resource` parameters (RFC 8707 section 2), each an absolute URI without fragment
/// and, when the client has registered audiences, one of them.
pub fn requested_audience(params: &Params, client: &Client) -> OAuthResult<Vec<String>> {
    let mut out = Vec::new();
    for raw in params.all("resource") {
        let r = ResourceUri::parse(raw).map_err(|e| OAuthError::InvalidTarget(e.to_string()))?;
        if !client.audiences.is_empty() && !client.audiences.contains(&r) {
            return Err(OAuthError::InvalidTarget(format!(
                "resource {} is not allowed for this client",
                r.as_str()
            )));
        }
        if !out.iter().any(|o: &String| o == r.as_str()) {
            out.push(r.as_str().to_owned());
        }
    }
    Ok(out)
}
