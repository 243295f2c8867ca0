//! The token endpoint (RFC 6749 section 3.2): authenticate the client, then hand the
//! request to the grant named by `grant_type`. Each grant lives in `grants/`.
use std::net::IpAddr;

use serde::Serialize;

use super::client_auth::AuthenticatedClient;
use super::error::{OAuthError, OAuthResult};
use super::params::Params;
use super::{Provider, grants};
use crate::domain::GrantType;

/// RFC 6749 section 5.1 (and OpenID Connect Core section 3.1.3.3 for `id_token`).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl Provider {
    pub async fn token(
        &self,
        authorization: Option<&str>,
        params: &Params,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<TokenResponse> {
        let grant_type = params.require("grant_type")?;
        let client = self
            .authenticate_client(authorization, params, &self.endpoint("/token"), source_ip)
            .await?;
        let grant = GrantType::parse(grant_type).map_err(|_| {
            OAuthError::UnsupportedGrantType(format!(
                "grant type {:?} is not supported",
                grant_type.chars().take(64).collect::<String>()
            ))
        })?;
        check_grant_allowed(&client, grant)?;
        match grant {
            GrantType::ClientCredentials => {
                grants::client_credentials::exchange(self, &client, params).await
            }
            GrantType::AuthorizationCode => {
                grants::authorization_code::exchange(self, &client, params).await
            }
            GrantType::RefreshToken => grants::refresh_token::exchange(self, &client, params).await,
        }
    }
}

fn check_grant_allowed(client: &AuthenticatedClient, grant: GrantType) -> OAuthResult<()> {
    if !client.client.allows_grant(grant) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use the {grant} grant"
        )));
    }
    Ok(())
}
