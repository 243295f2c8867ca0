//! Token introspection (RFC 7662). Only authenticated confidential clients may ask
//! (section 2.1). Anything that is not a live token of ours is `{"active": false}` with no
//! further detail (section 2.2).
use std::net::IpAddr;

use serde_json::{Value, json};

use super::error::{OAuthError, OAuthResult};
use super::params::Params;
use super::{Provider, now};

impl Provider {
    pub async fn introspect(
        &self,
        authorization: Option<&str>,
        params: &Params,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<Value> {
        let caller = self
            .authenticate_client(
                authorization,
                params,
                &self.endpoint("/introspect"),
                source_ip,
            )
            .await?;
        if caller.client.is_public() {
            return Err(OAuthError::UnauthorizedClient(
                "public clients may not use introspection".into(),
            ));
        }
        let token = params.require("token")?;
        // token_type_hint is only a hint (section 2.1); every kind is tried.
        if let Some(info) = self.introspect_access_token(token).await? {
            return Ok(info);
        }
        if let Some(info) = self
            .introspect_refresh_token(token, caller.client.id.as_str())
            .await?
        {
            return Ok(info);
        }
        Ok(inactive())
    }

    async fn introspect_access_token(&self, token: &str) -> OAuthResult<Option<Value>> {
        let Some(at) = self.verify_access_token(token) else {
            return Ok(None);
        };
        if !self.is_live(&at).await? {
            return Ok(Some(inactive()));
        }
        let c = &at.claims;
        let mut out = json!({
            "active": true,
            "token_type": "Bearer",
            "client_id": at.client_id,
            "sub": at.sub,
            "iss": c["iss"],
            "aud": c["aud"],
            "exp": at.exp,
            "iat": c["iat"],
            "jti": at.jti,
        });
        if let Some(nbf) = c.get("nbf") {
            out["nbf"] = nbf.clone();
        }
        if !at.scope.is_empty() {
            out["scope"] = json!(at.scope.to_string());
        }
        if let Some(t) = c.get("auth_time") {
            out["auth_time"] = t.clone();
        }
        // RFC 8693 section 4.1: the actor chain of a delegated token.
        if let Some(act) = c.get("act") {
            out["act"] = act.clone();
        }
        Ok(Some(out))
    }

    /// Refresh tokens are shown only to the client they were issued to: resource servers
    /// have no business with them, and another client learning one is live helps nobody.
    async fn introspect_refresh_token(
        &self,
        token: &str,
        caller: &str,
    ) -> OAuthResult<Option<Value>> {
        if token.len() > 128 {
            return Ok(None);
        }
        let Some(rt) = self
            .grants
            .find_refresh_token(&self.hasher.hash(token))
            .await?
        else {
            return Ok(None);
        };
        let live_grant = self
            .grants
            .find_grant(&rt.grant_id)
            .await?
            .is_some_and(|g| g.revoked_at.is_none());
        if !live_grant
            || rt.rotated_at.is_some()
            || rt.expires_at <= now()
            || rt.client_id != caller
        {
            return Ok(Some(inactive()));
        }
        Ok(Some(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": rt.client_id,
            "sub": rt.user_id,
            "scope": rt.scope,
            "iss": self.issuer(),
            "exp": rt.expires_at,
            "iat": rt.created_at,
        })))
    }
}

pub fn inactive() -> Value {
    json!({ "active": false })
}
