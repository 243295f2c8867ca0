//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a service that
//! received a person's access token exchanges it for a token for a downstream service, with
//! the downstream audience, narrower scopes and an `act` claim naming the service
//! (delegation, section 4.1; nested for chains). Allowed only by the client's exchange
//! policy. The subject token is this server's or a trusted issuer's (`subject_token`). A
//! token exchanged from one of this server's tokens is recorded under the subject's grant,
//! so revoking that grant (or deleting its user or client) revokes it too.
use serde_json::{Value, json};

use super::super::access_token::AccessTokenGrant;
use super::super::client_auth::AuthenticatedClient;
use super::super::error::{OAuthError, OAuthResult};
use super::super::model::ExchangePolicy;
use super::super::params::Params;
use super::super::token::TokenResponse;
use super::super::{Provider, now};
use super::requested_scope;
use super::subject_token;
use crate::domain::ResourceUri;

/// RFC 8693 section 3: the only token type Latchkey accepts and issues by exchange.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

pub async fn exchange(
    p: &Provider,
    auth: &AuthenticatedClient,
    params: &Params,
) -> OAuthResult<TokenResponse> {
    let client = &auth.client;
    let policy = match &client.exchange {
        Some(policy) if !client.is_public() => policy,
        _ => {
            return Err(OAuthError::UnauthorizedClient(
                "this client has no token exchange policy".into(),
            ));
        }
    };
    let subject_token = params.require("subject_token")?;
    check_token_type("subject_token_type", params.require("subject_token_type")?)?;
    if let Some(t) = params.get("requested_token_type") {
        check_token_type("requested_token_type", t)?;
    }
    // RFC 8693 section 2.1: actor_token_type is required with actor_token, and must not be
    // sent without it.
    let actor_token = match (params.get("actor_token"), params.get("actor_token_type")) {
        (Some(token), Some(t)) => {
            check_token_type("actor_token_type", t)?;
            Some(token)
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type is required with actor_token",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type must not be sent without actor_token",
            ));
        }
        (None, None) => None,
    };
    let audience = requested_targets(params, policy)?;

    let subject = subject_token::check(p, policy, subject_token).await?;
    if let Some(token) = actor_token {
        let actor = p.live_access_token(token).await?.ok_or_else(|| {
            OAuthError::invalid_grant(
                "the actor token is not a live access token issued by this server",
            )
        })?;
        if actor.client_id != client.id.as_str() {
            return Err(OAuthError::invalid_grant(
                "the actor token was not issued to the authenticated client",
            ));
        }
    }

    // The scopes the subject token carries that the policy lets this client pass on.
    let allowed = subject.scope.intersection(&policy.scope);
    let scope = requested_scope(params, &allowed, &allowed)?;
    let previous_act = subject.claims.get("act").cloned();
    // Impersonation (no new `act`) only when allowed and no actor token asks for delegation.
    let act = if actor_token.is_none() && policy.may_impersonate {
        previous_act
    } else {
        Some(actor_claim(client.id.as_str(), previous_act))
    };
    let user_id = subject.user_id.clone();
    let issued = p.issue_access_token(AccessTokenGrant {
        client,
        subject: &subject.sub,
        scope: &scope,
        audience: &audience,
        auth_time: subject.claims.get("auth_time").and_then(Value::as_i64),
        act,
        // Short-lived, and never outliving the token it was exchanged for.
        expires_at_most: Some(
            subject
                .exp
                .min(now() + p.settings.tokens.exchanged_token_ttl as i64),
        ),
    })?;
    if let Some(grant_id) = &subject.grant_id {
        tie_to_grant(p, grant_id, &issued.jti, issued.expires_at).await?;
    }
    tracing::debug!(client_id = %client.id, scope = %scope, "issued a token by token exchange");
    Ok(TokenResponse {
        access_token: issued.token,
        issued_token_type: Some(ACCESS_TOKEN_TYPE),
        token_type: "Bearer",
        expires_in: issued.expires_in,
        // RFC 8693 section 2.2.1: scope is sent when it differs from the request; it is
        // always sent here, which is allowed and spares the caller a guess.
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        refresh_token: None,
        id_token: None,
        user_id,
    })
}

/// RFC 8693 section 4.1: the new actor, with the previous chain nested under it.
fn actor_claim(actor: &str, previous: Option<Value>) -> Value {
    let mut act = json!({ "sub": actor });
    if let Some(prev) = previous {
        act["act"] = prev;
    }
    act
}

/// Only access tokens are exchanged and issued. ID tokens are refused: they are
/// authentication statements for the client that received them, not credentials for
/// resources, and carry no scope.
fn check_token_type(name: &str, value: &str) -> OAuthResult<()> {
    if value == ACCESS_TOKEN_TYPE {
        return Ok(());
    }
    Err(OAuthError::InvalidRequest(format!(
        "{name} {:?} is not supported; only {ACCESS_TOKEN_TYPE} is",
        value.chars().take(100).collect::<String>()
    )))
}

/// The downstream audiences: every `resource` (RFC 8707, an absolute URI) and `audience`
/// (RFC 8693 section 2.1, a name or URI). At least one is required, and each must be in
/// the client's policy.
fn requested_targets(params: &Params, policy: &ExchangePolicy) -> OAuthResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in params.all("resource") {
        let r = ResourceUri::parse(raw).map_err(|e| OAuthError::InvalidTarget(e.to_string()))?;
        if !out.iter().any(|o| o == r.as_str()) {
            out.push(r.as_str().to_owned());
        }
    }
    for raw in params.all("audience") {
        ExchangePolicy::validate_audience(raw).map_err(OAuthError::InvalidTarget)?;
        if !out.contains(raw) {
            out.push(raw.clone());
        }
    }
    if out.is_empty() {
        return Err(OAuthError::invalid_request(
            "name the downstream service with audience or resource",
        ));
    }
    if let Some(refused) = out.iter().find(|a| !policy.audiences.contains(a)) {
        return Err(OAuthError::InvalidTarget(format!(
            "this client may not exchange tokens for audience {refused}"
        )));
    }
    Ok(out)
}

/// Records the exchanged token under the subject's grant, so that revoking the grant puts
/// it on the revocation list with the grant's own tokens. A grant revoked since the subject
/// token was checked refuses the record, and the token is withheld.
async fn tie_to_grant(p: &Provider, grant_id: &str, jti: &str, expires_at: i64) -> OAuthResult<()> {
    if p.grants
        .record_grant_tokens(grant_id, jti, expires_at, None)
        .await?
    {
        return Ok(());
    }
    Err(OAuthError::invalid_grant(
        "the subject token's grant was revoked",
    ))
}
