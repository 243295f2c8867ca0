//! The UserInfo endpoint (OpenID Connect Core section 5.3): a bearer access token with the
//! `openid` scope gets the claims its scopes release. Errors follow RFC 6750 section 3.1.
use serde_json::Value;

use super::Provider;
use super::error::{OAuthError, OAuthResult};
use super::id_token::user_claims;

impl Provider {
    pub async fn userinfo(&self, bearer: Option<&str>) -> OAuthResult<Value> {
        let token = bearer.ok_or(OAuthError::MissingToken)?;
        let at = self.verify_access_token(token).ok_or_else(|| {
            OAuthError::InvalidToken("the access token is invalid or expired".into())
        })?;
        if !self.is_live(&at).await? {
            return Err(OAuthError::InvalidToken(
                "the access token was revoked or its client removed".into(),
            ));
        }
        if !at.scope.contains("openid") {
            return Err(OAuthError::InsufficientScope(
                "the openid scope is required".into(),
            ));
        }
        let user = self
            .users
            .find_user_by_id(&at.sub)
            .await?
            .ok_or_else(|| OAuthError::InvalidToken("the user no longer exists".into()))?;
        Ok(user_claims(&user, &at.scope))
    }
}
