//! The token endpoint (RFC 6749 section 3.2): authenticate the client, then hand the
//! request to the grant named by `grant_type`. Each grant lives in `grants/`.
use std::net::IpAddr;

use serde::Serialize;

use super::client_auth::AuthenticatedClient;
use super::error::{OAuthError, OAuthResult};
use super::params::Params;
use super::{Provider, grants};
use crate::audit;
use crate::domain::GrantType;

/// RFC 6749 section 5.1 (and OpenID Connect Core section 3.1.3.3 for `id_token`).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// RFC 8693 section 2.2.1: the type of the token issued by a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The person the tokens are for (none for a service's own token), for the audit
    /// record; not part of the response.
    #[serde(skip)]
    pub user_id: Option<String>,
}

impl Provider {
    /// `source_ip` is the client's address, for the audit record.
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
        let issued = match grant {
            GrantType::ClientCredentials => {
                grants::client_credentials::exchange(self, &client, params).await
            }
            GrantType::AuthorizationCode => {
                grants::authorization_code::exchange(self, &client, params).await
            }
            GrantType::RefreshToken => grants::refresh_token::exchange(self, &client, params).await,
            GrantType::TokenExchange => {
                grants::token_exchange::exchange(self, &client, params).await
            }
        }?;
        self.metrics.token_issued(grant.as_str());
        audit::Event::new(audit::Kind::TokenIssued)
            .client(client.client.id.as_str())
            .user_opt(issued.user_id.as_deref())
            .grant_type(grant.as_str())
            .scope(issued.scope.as_deref().unwrap_or(""))
            .from(source_ip)
            .emit();
        Ok(issued)
    }
}

fn check_grant_allowed(client: &AuthenticatedClient, grant: GrantType) -> OAuthResult<()> {
    let allowed = match grant {
        // RFC 8693: allowed by the client's exchange policy, not by its grant types.
        GrantType::TokenExchange => client.client.exchange.is_some() && !client.client.is_public(),
        other => client.client.allows_grant(other),
    };
    if !allowed {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use the {grant} grant"
        )));
    }
    Ok(())
}
