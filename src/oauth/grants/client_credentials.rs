//! `grant_type=client_credentials` (RFC 6749 section 4.4): a confidential client asks for a
//! token for itself. No refresh token is issued (section 4.4.3), and a secret-authenticated
//! request writes nothing to the database.
use super::super::Provider;
use super::super::access_token::AccessTokenGrant;
use super::super::client_auth::AuthenticatedClient;
use super::super::error::{OAuthError, OAuthResult};
use super::super::params::Params;
use super::super::token::TokenResponse;
use super::{requested_audience, requested_scope};

pub async fn exchange(
    provider: &Provider,
    auth: &AuthenticatedClient,
    params: &Params,
) -> OAuthResult<TokenResponse> {
    let client = &auth.client;
    // RFC 6749 section 4.4: "The client credentials grant type MUST only be used by
    // confidential clients."
    if client.is_public() {
        return Err(OAuthError::UnauthorizedClient(
            "public clients may not use client_credentials".into(),
        ));
    }
    let scope = requested_scope(params, &client.scope, &client.scope)?;
    let mut audience = requested_audience(params, client)?;
    if audience.is_empty() {
        audience = provider.default_audience(client);
    }
    let issued = provider.issue_access_token(AccessTokenGrant {
        client,
        subject: client.id.as_str(),
        scope: &scope,
        audience: &audience,
        auth_time: None,
        act: None,
        expires_at_most: None,
    })?;
    tracing::debug!(client_id = %client.id, scope = %scope, "issued client_credentials token");
    Ok(TokenResponse {
        access_token: issued.token,
        issued_token_type: None,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        // RFC 6749 section 3.3: a scope value has at least one token; none is no scope.
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        refresh_token: None,
        id_token: None,
        user_id: None,
    })
}
