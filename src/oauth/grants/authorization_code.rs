//! `grant_type=authorization_code` (RFC 6749 section 4.1.3, RFC 7636 section 4.5-4.6,
//! OpenID Connect Core section 3.1.3). A code is single use: presenting it again revokes
//! every token issued from it (RFC 6749 section 4.1.2).
use super::super::client_auth::AuthenticatedClient;
use super::super::error::{OAuthError, OAuthResult};
use super::super::params::Params;
use super::super::ports::{CodeRedemption, RedeemedCode};
use super::super::token::TokenResponse;
use super::super::{Provider, now, pkce};
use super::requested_audience;
use super::user_tokens::{self, UserTokenRequest};
use crate::domain::{CodeVerifier, Scope};

pub async fn exchange(
    p: &Provider,
    auth: &AuthenticatedClient,
    params: &Params,
) -> OAuthResult<TokenResponse> {
    let client = &auth.client;
    let code = params.require("code")?;
    let verifier = params
        .get("code_verifier")
        .map(|v| CodeVerifier::parse(v).map_err(|e| OAuthError::invalid_request(e.0)))
        .transpose()?;
    let invalid = || {
        OAuthError::invalid_grant("the authorization code is invalid, expired or was already used")
    };

    let hash = p.hasher.hash(code);
    let t = now();
    // Consumed first, checked after: a code that fails a check below is used up all the
    // same (one attempt per code).
    let (record, user) = match p
        .grants
        .redeem_authorization_code(&hash, client.id.as_str(), t)
        .await?
    {
        CodeRedemption::Redeemed(redeemed) => {
            let RedeemedCode { code, user } = *redeemed;
            (code, user)
        }
        CodeRedemption::OtherClient => {
            tracing::warn!(client_id = %client.id, "authorization code presented by another client");
            return Err(invalid());
        }
        CodeRedemption::AlreadyUsed { grant_id } => {
            // RFC 6749 section 4.1.2: "If an authorization code is used more than once, the
            // authorization server MUST deny the request and SHOULD revoke (when possible)
            // all tokens previously issued based on that authorization code."
            tracing::warn!(client_id = %client.id, grant_id = %grant_id, "authorization code reused; revoking its grant");
            p.grants.revoke_grant(&grant_id, t).await?;
            return Err(invalid());
        }
        CodeRedemption::Unknown => return Err(invalid()),
    };
    if record.expires_at <= t {
        return Err(invalid());
    }
    // RFC 6749 section 4.1.3: redirect_uri must be identical if it was in the request.
    let given = params.get("redirect_uri").unwrap_or("");
    if given != record.redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, &verifier) {
        (Some(challenge), Some(v)) => {
            if !pkce::verify_s256(v, challenge) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant("code_verifier is required"));
        }
        // RFC 9700 section 2.1.1: a verifier for a code issued without a challenge is
        // a downgrade attempt.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was used",
            ));
        }
        (None, None) => {
            if client.is_public() || client.require_pkce {
                return Err(OAuthError::invalid_grant("PKCE is required"));
            }
        }
    }
    // The grant is not read: the code carries its `sid` and `amr`, and recording the tokens
    // under the grant refuses a grant revoked meanwhile (`user_tokens::issue`). The user was
    // read with the code; a deleted user ends the grant.
    let user = user.ok_or_else(user_tokens::user_gone)?;
    let scope = Scope::parse(&record.scope)
        .map_err(|e| OAuthError::Internal(anyhow::anyhow!("stored scope is invalid: {e}")))?;
    let audience = requested_audience(params, client)?;
    user_tokens::issue(
        p,
        UserTokenRequest {
            client,
            user: &user,
            grant_id: &record.grant_id,
            grant_scope: &scope,
            token_scope: &scope,
            audience,
            auth_time: record.auth_time,
            nonce: record.nonce.as_deref(),
            sid: record.sid.as_deref(),
            amr: &record.amr,
        },
    )
    .await
}
