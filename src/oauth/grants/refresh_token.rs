//! `grant_type=refresh_token` (RFC 6749 section 6, RFC 9700 section 4.14). Every use
//! rotates the token. A rotated token presented again within the grace window (two tabs
//! refreshing at once) still works; after it, the whole family (the grant) is revoked.
use super::super::client_auth::AuthenticatedClient;
use super::super::error::{OAuthError, OAuthResult};
use super::super::params::Params;
use super::super::token::TokenResponse;
use super::super::{Provider, now};
use super::user_tokens::{self, UserTokenRequest};
use super::{requested_audience, requested_scope};
use crate::domain::Scope;

pub async fn exchange(
    p: &Provider,
    auth: &AuthenticatedClient,
    params: &Params,
) -> OAuthResult<TokenResponse> {
    let client = &auth.client;
    let presented = params.require("refresh_token")?;
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let hash = p.hasher.hash(presented);
    let Some(record) = p.grants.find_refresh_token(&hash).await? else {
        return Err(invalid());
    };
    if record.client_id != client.id.as_str() {
        tracing::warn!(client_id = %client.id, "refresh token presented by another client");
        return Err(invalid());
    }
    let t = now();
    if record.expires_at <= t {
        return Err(invalid());
    }
    let grant = p
        .grants
        .find_grant(&record.grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(invalid)?;
    let grace = p.settings.tokens.refresh_token_grace as i64;
    let rotated_now =
        record.rotated_at.is_none() && p.grants.mark_refresh_token_rotated(&hash, t).await?;
    if !rotated_now {
        // Already rotated (before, or by a concurrent request just now).
        let rotated_at = match record.rotated_at {
            Some(r) => r,
            None => p
                .grants
                .find_refresh_token(&hash)
                .await?
                .and_then(|r| r.rotated_at)
                .unwrap_or(t),
        };
        if t - rotated_at > grace {
            tracing::warn!(client_id = %client.id, grant_id = %grant.id, "refresh token reused after rotation; revoking the family");
            p.grants.revoke_grant(&grant.id, t).await?;
            return Err(invalid());
        }
    }
    let grant_scope = Scope::parse(&record.scope)
        .map_err(|e| OAuthError::Internal(anyhow::anyhow!("stored scope is invalid: {e}")))?;
    // RFC 6749 section 6: the scope may be narrowed, never widened.
    let token_scope = requested_scope(params, &grant_scope, &grant_scope)?;
    let user = user_tokens::grant_user(p, &record.user_id).await?;
    let audience = requested_audience(params, client)?;
    user_tokens::issue(
        p,
        UserTokenRequest {
            client,
            user: &user,
            grant_id: &grant.id,
            grant_scope: &grant_scope,
            token_scope: &token_scope,
            audience,
            auth_time: record.auth_time,
            nonce: None,
            sid: grant.sid.as_deref(),
            amr: &grant.amr,
        },
    )
    .await
}
