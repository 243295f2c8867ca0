//! Token revocation (RFC 7009). A client may revoke only tokens issued to it (section 2.1).
//! An invalid, expired or unknown token is not an error: the answer is 200 (section 2.2).
use std::net::IpAddr;

use super::Provider;
use super::error::{OAuthError, OAuthResult};
use super::params::Params;
use crate::audit;
use crate::domain::ClientId;

impl Provider {
    /// `source_ip` is the client's address, for the audit record.
    pub async fn revoke(
        &self,
        authorization: Option<&str>,
        params: &Params,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<()> {
        let caller = self
            .authenticate_client(authorization, params, &self.endpoint("/revoke"), source_ip)
            .await?;
        let token = params.require("token")?;
        if let Some(hint) = params.get("token_type_hint")
            && !matches!(hint, "access_token" | "refresh_token")
        {
            // Section 2.2.1: a hint we do not know is ignored, not an error; the token is
            // still searched for in every kind.
            tracing::debug!(hint, "ignoring unknown token_type_hint");
        }
        if let Some(at) = self.verify_access_token(token) {
            if at.client_id != caller.client.id.as_str() {
                return Err(OAuthError::UnauthorizedClient(
                    "the token was not issued to this client".into(),
                ));
            }
            let cid = ClientId::parse(&at.client_id)
                .map_err(|_| OAuthError::Internal(anyhow::anyhow!("bad client_id claim")))?;
            self.revocations
                .revoke_access_token(&at.jti, &cid, at.exp)
                .await?;
            audit::Event::new(audit::Kind::TokenRevoked)
                .client(cid.as_str())
                .token_type("access_token")
                .from(source_ip)
                .emit();
            return Ok(());
        }
        self.revoke_refresh_token(&caller.client, token, source_ip)
            .await
    }

    /// Revoking a refresh token revokes its whole grant, access tokens included (section 2.1:
    /// the server "SHOULD also invalidate all access tokens based on the same authorization
    /// grant").
    async fn revoke_refresh_token(
        &self,
        client: &super::model::Client,
        token: &str,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<()> {
        if token.len() > 128 {
            return Ok(());
        }
        let Some(rt) = self
            .grants
            .find_refresh_token(&self.hasher.hash(token))
            .await?
        else {
            return Ok(());
        };
        if rt.client_id != client.id.as_str() {
            return Err(OAuthError::UnauthorizedClient(
                "the token was not issued to this client".into(),
            ));
        }
        self.grants.revoke_grant(&rt.grant_id, super::now()).await?;
        audit::Event::new(audit::Kind::TokenRevoked)
            .client(client.id.as_str())
            .user(&rt.user_id)
            .token_type("refresh_token")
            .reason("the grant and its tokens were revoked")
            .from(source_ip)
            .emit();
        Ok(())
    }
}
