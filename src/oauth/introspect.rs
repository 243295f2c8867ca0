//! Token introspection (RFC 7662). Only authenticated confidential clients may ask
//! (section 2.1). Anything that is not a live token of ours is `{"active": false}` with no
//! further detail (section 2.2).
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Value, json};

use super::access_token::AccessTokenClaims;
use super::error::{OAuthError, OAuthResult};
use super::params::Params;
use super::{Provider, now};

/// An introspection response (RFC 7662 section 2.2).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Introspection {
    /// A live access token of this server: its claims, moved out of the verified token.
    AccessToken(Box<ActiveAccessToken>),
    /// `{"active": false}`, or a live refresh token.
    Other(Value),
}

/// The members shown for a live access token. Claims the token does not hold are left out.
#[derive(Debug, Serialize)]
pub struct ActiveAccessToken {
    active: bool,
    token_type: &'static str,
    client_id: String,
    sub: String,
    iss: Value,
    aud: Value,
    exp: i64,
    iat: Value,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<Value>,
    /// RFC 8693 section 4.1: the actor chain of a delegated token.
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Value>,
}

impl ActiveAccessToken {
    fn from_claims(at: AccessTokenClaims) -> Self {
        let mut c = match at.claims {
            Value::Object(map) => map,
            _ => Default::default(),
        };
        Self {
            active: true,
            token_type: "Bearer",
            client_id: at.client_id,
            sub: at.sub,
            iss: c.remove("iss").unwrap_or(Value::Null),
            aud: c.remove("aud").unwrap_or(Value::Null),
            exp: at.exp,
            iat: c.remove("iat").unwrap_or(Value::Null),
            jti: at.jti,
            nbf: c.remove("nbf"),
            scope: (!at.scope.is_empty()).then(|| at.scope.to_string()),
            auth_time: c.remove("auth_time"),
            act: c.remove("act"),
        }
    }
}

impl Provider {
    pub async fn introspect(
        &self,
        authorization: Option<&str>,
        params: &Params,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<Introspection> {
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
            return Ok(Introspection::Other(info));
        }
        Ok(Introspection::Other(inactive()))
    }

    async fn introspect_access_token(&self, token: &str) -> OAuthResult<Option<Introspection>> {
        let Some(at) = self.verify_access_token(token) else {
            return Ok(None);
        };
        if !self.is_live(&at).await? {
            return Ok(Some(Introspection::Other(inactive())));
        }
        Ok(Some(Introspection::AccessToken(Box::new(
            ActiveAccessToken::from_claims(at),
        ))))
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
