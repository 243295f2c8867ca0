//! The subject token of a token exchange (RFC 8693 section 2.1), from one of two places:
//! - this server: a live access token (signature, `typ`, `iss`, expiry, not revoked, client
//!   still registered), with the grant it was issued under, so that a token exchanged from
//!   it is recorded under that grant and dies with it;
//! - an issuer in `token_exchange.trusted_issuers`: signature by a key from its `jwks_uri`
//!   (cached, fetched again on an unknown `kid` at most once per `keys.client_jwks_min_refetch`),
//!   algorithm allow-list, header `typ`, `iss`, `exp`, `nbf` and `iat` (the last two with
//!   the clock skew), `aud`, and its `sub` mapped to a subject here.
//!
//! Either way the client's exchange policy must name the issuer. Every refusal is
//! `invalid_grant` (docs/token-exchange.md, "Error codes").
use serde_json::Value;

use super::super::access_token::audiences;
use super::super::error::{OAuthError, OAuthResult};
use super::super::model::ExchangePolicy;
use super::super::{Provider, now};
use crate::config::{SubjectMapping, TrustedIssuer};
use crate::domain::Scope;
use crate::keys::{self, KeyError, VerifiedJws};

/// Longest foreign `sub` accepted (before a prefix is added).
const MAX_SUBJECT_LEN: usize = 255;

/// A subject token that passed every check.
#[derive(Debug, Clone)]
pub struct SubjectToken {
    /// The subject of the exchanged token (a foreign subject already mapped).
    pub sub: String,
    /// The local user the subject is, when known (for the audit trail).
    pub user_id: Option<String>,
    pub scope: Scope,
    pub exp: i64,
    /// All claims, for `act` and `auth_time`.
    pub claims: Value,
    /// The grant of this server the token was issued under (directly or by exchange).
    pub grant_id: Option<String>,
}

/// Checks `token` as a subject token the client with `policy` may present.
pub async fn check(
    p: &Provider,
    policy: &ExchangePolicy,
    token: &str,
) -> OAuthResult<SubjectToken> {
    let not_ours = || {
        OAuthError::invalid_grant(
            "the subject token is not a live access token of this server or a trusted issuer",
        )
    };
    // Which issuer's rules apply is read before the signature is checked; the claims are
    // trusted only after it (and `iss` is checked again among the signed claims).
    let unverified = keys::decode_unverified(token).map_err(|_| not_ours())?;
    let iss = unverified
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(not_ours)?
        .to_owned();
    let trusted = p
        .settings
        .token_exchange
        .trusted_issuers
        .iter()
        .find(|t| t.issuer == iss);
    if iss != p.issuer() && trusted.is_none() {
        return Err(not_ours());
    }
    if !policy.accepts_issuer(&iss, p.issuer()) {
        return Err(OAuthError::invalid_grant(format!(
            "this client may not exchange tokens issued by {iss}"
        )));
    }
    match trusted {
        None => own(p, token).await?.ok_or_else(not_ours),
        Some(t) => foreign(p, t, &unverified.header, token).await,
    }
}

/// A live access token of this server, or `None`.
pub async fn own(p: &Provider, token: &str) -> OAuthResult<Option<SubjectToken>> {
    let Some(at) = p.live_access_token(token).await? else {
        return Ok(None);
    };
    let grant_id = p.grants.access_token_grant(&at.jti).await?;
    // The subject is a person unless it is a service's own token (client credentials).
    let user_id = (at.sub != at.client_id).then(|| at.sub.clone());
    Ok(Some(SubjectToken {
        user_id,
        sub: at.sub,
        scope: at.scope,
        exp: at.exp,
        claims: at.claims,
        grant_id,
    }))
}

/// A token of a trusted issuer; `header` is its (still unverified) JWS header, checked
/// before any key is fetched or signature computed.
async fn foreign(
    p: &Provider,
    t: &TrustedIssuer,
    header: &Value,
    token: &str,
) -> OAuthResult<SubjectToken> {
    let refuse =
        |why: &str| OAuthError::invalid_grant(format!("the subject token of {} {why}", t.issuer));
    let header_str = |name: &str| header.get(name).and_then(Value::as_str);
    // RFC 8725 section 3.1: only the algorithms configured for this issuer.
    if !header_str("alg").is_some_and(|a| t.algorithms.iter().any(|ok| ok == a)) {
        return Err(refuse("is signed with an algorithm not accepted from it"));
    }
    // RFC 8725 section 3.11, RFC 9068 section 2.1: explicit typing, so an ID token or
    // another JWT of the issuer is not taken for an access token.
    if !header_str("typ")
        .is_some_and(|typ| t.token_types.iter().any(|ok| typ.eq_ignore_ascii_case(ok)))
    {
        return Err(refuse("does not have an accepted typ"));
    }
    // The header is covered by the signature, so what was checked above is what was signed.
    let c = verify_signature(p, t, token).await?.claims;
    if c.get("iss").and_then(Value::as_str) != Some(t.issuer.as_str()) {
        return Err(refuse("names another issuer"));
    }
    let t_now = now();
    let skew = p.settings.tokens.clock_skew as i64;
    let exp = c
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| refuse("has no exp"))?;
    // No skew on `exp`: the exchanged token may not outlive it anyway.
    if exp <= t_now {
        return Err(refuse("has expired"));
    }
    for (claim, why) in [
        ("nbf", "is not valid yet"),
        ("iat", "was issued in the future"),
    ] {
        match c.get(claim) {
            None => {}
            Some(v) if v.as_i64().is_some_and(|at| at <= t_now + skew) => {}
            Some(_) => return Err(refuse(why)),
        }
    }
    if let Some(want) = &t.audience
        && !audiences(&c).contains(&want.as_str())
    {
        return Err(refuse("is not for this server (aud)"));
    }
    let foreign_sub = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_SUBJECT_LEN)
        .ok_or_else(|| refuse("has no usable sub"))?;
    let scope = match c.get("scope") {
        None => Scope::default(),
        Some(s) => s
            .as_str()
            .and_then(|s| Scope::parse(s).ok())
            .ok_or_else(|| refuse("has a malformed scope"))?,
    };
    let (sub, user_id) = match t.subject {
        SubjectMapping::AsIs => (foreign_sub.to_owned(), None),
        SubjectMapping::Prefix => (
            format!("{}{foreign_sub}", t.subject_prefix.as_deref().unwrap_or("")),
            None,
        ),
        SubjectMapping::LocalUser => {
            let claim = t.subject_claim.as_deref().unwrap_or("preferred_username");
            let username = c
                .get(claim)
                .and_then(Value::as_str)
                .ok_or_else(|| refuse(&format!("has no {claim} claim naming a user here")))?;
            let user = p
                .users
                .find_user_by_username(username)
                .await?
                .ok_or_else(|| refuse("names no user of this server"))?;
            (user.id.clone(), Some(user.id))
        }
    };
    Ok(SubjectToken {
        sub,
        user_id,
        scope,
        exp,
        claims: c,
        grant_id: None,
    })
}

/// The signature, by a key of the issuer's JWK Set; an unknown key makes the set be
/// fetched again (rate-limited by the cache), as after a key rotation.
async fn verify_signature(
    p: &Provider,
    t: &TrustedIssuer,
    token: &str,
) -> OAuthResult<VerifiedJws> {
    let fetch = |force: bool| async move {
        p.remote_jwks.get(&t.jwks_uri, force).await.map_err(|e| {
            tracing::warn!(issuer = %t.issuer, error = %e, "could not fetch a trusted issuer's JWKS");
            OAuthError::invalid_grant(format!(
                "the keys of {} could not be fetched; try again later",
                t.issuer
            ))
        })
    };
    let bad =
        || OAuthError::invalid_grant(format!("the subject token of {} does not verify", t.issuer));
    let set = fetch(false).await?;
    match keys::verify_with_jwks(token, &set) {
        Ok(v) => Ok(v),
        Err(KeyError::NoMatchingKey) => {
            let set = fetch(true).await?;
            keys::verify_with_jwks(token, &set).map_err(|_| bad())
        }
        Err(_) => Err(bad()),
    }
}
