//! Tokens for a person's grant, shared by the authorization_code and refresh_token grants:
//! an access token (recorded under the grant so revoking the grant revokes it), an ID token
//! when `openid` was granted, and a new refresh token when `offline_access` was granted.
use super::super::access_token::AccessTokenGrant;
use super::super::authn::AuthMethod;
use super::super::error::{OAuthError, OAuthResult};
use super::super::id_token::IdTokenInput;
use super::super::model::{Client, RefreshToken, User};
use super::super::token::TokenResponse;
use super::super::{Provider, now};
use crate::crypto::random_token;
use crate::domain::{GrantType, Scope};

pub struct UserTokenRequest<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub grant_id: &'a str,
    /// The scope of the grant (kept by the new refresh token).
    pub grant_scope: &'a Scope,
    /// The scope of this access token (may be narrower on refresh).
    pub token_scope: &'a Scope,
    pub audience: Vec<String>,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub sid: Option<&'a str>,
    /// The `amr` of the sign-in the grant was made in.
    pub amr: &'a [AuthMethod],
}

pub async fn issue(p: &Provider, r: UserTokenRequest<'_>) -> OAuthResult<TokenResponse> {
    let audience = if r.audience.is_empty() {
        p.default_audience(r.client)
    } else {
        r.audience
    };
    let at = p.issue_access_token(AccessTokenGrant {
        client: r.client,
        subject: &r.user.id,
        scope: r.token_scope,
        audience: &audience,
        auth_time: Some(r.auth_time),
        act: None,
        expires_at_most: None,
    })?;
    let id_token = if r.token_scope.contains("openid") {
        Some(p.issue_id_token(IdTokenInput {
            client: r.client,
            user: r.user,
            scope: r.token_scope,
            auth_time: r.auth_time,
            nonce: r.nonce,
            sid: r.sid,
            amr: r.amr,
            access_token: &at.token,
        })?)
    } else {
        None
    };
    let wants_refresh =
        r.grant_scope.contains("offline_access") || r.client.always_issue_refresh_token;
    let refresh_token =
        (wants_refresh && r.client.allows_grant(GrantType::RefreshToken)).then(|| {
            let token = random_token();
            let t = now();
            let record = RefreshToken {
                token_hash: p.hasher.hash(&token),
                grant_id: r.grant_id.to_owned(),
                client_id: r.client.id.as_str().to_owned(),
                user_id: r.user.id.clone(),
                scope: r.grant_scope.to_string(),
                auth_time: r.auth_time,
                created_at: t,
                expires_at: t + p.settings.tokens.refresh_token_ttl as i64,
                rotated_at: None,
            };
            (token, record)
        });
    // Signed first, recorded together after: a grant revoked meanwhile (a replayed code,
    // a reused refresh token, the person disconnecting the app) refuses the record, and
    // nothing is handed out.
    let recorded = p
        .grants
        .record_grant_tokens(
            r.grant_id,
            &at.jti,
            at.expires_at,
            refresh_token.as_ref().map(|(_, record)| record),
        )
        .await?;
    if !recorded {
        return Err(OAuthError::invalid_grant("the grant was revoked"));
    }
    let refresh_token = refresh_token.map(|(token, _)| token);
    Ok(TokenResponse {
        access_token: at.token,
        issued_token_type: None,
        token_type: "Bearer",
        expires_in: at.expires_in,
        scope: (!r.token_scope.is_empty()).then(|| r.token_scope.to_string()),
        refresh_token,
        id_token,
        user_id: Some(r.user.id.clone()),
    })
}

/// Loads the user of a grant; a deleted user ends the grant.
pub async fn grant_user(p: &Provider, user_id: &str) -> OAuthResult<User> {
    p.users
        .find_user_by_id(user_id)
        .await?
        .ok_or_else(user_gone)
}

/// The answer when a grant's user no longer exists.
pub fn user_gone() -> OAuthError {
    OAuthError::invalid_grant("the user no longer exists")
}
