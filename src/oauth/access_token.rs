//! JWT access tokens per RFC 9068: header `typ: at+jwt`, claims `iss`, `sub`, `aud`, `exp`,
//! `iat`, `jti`, `client_id`, `scope` (section 2.2), signed with the client's or the
//! configured algorithm. Reading one back (`verify_access_token`) is for introspection,
//! revocation and userinfo.
use serde::Serialize;
use serde_json::Value;

use super::error::{OAuthError, OAuthResult};
use super::model::Client;
use super::{Provider, now};
use crate::crypto::random_token;
use crate::domain::{ClientId, Scope};
use crate::keys::MAX_TOKEN_LEN;

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// What an access token says, whoever it was issued for.
#[derive(Debug, Clone)]
pub struct AccessTokenGrant<'a> {
    pub client: &'a Client,
    /// The resource owner: a user id, or the client id for client credentials.
    pub subject: &'a str,
    pub scope: &'a Scope,
    pub audience: &'a [String],
    /// For tokens issued on behalf of a user (RFC 9068 section 2.2.1).
    pub auth_time: Option<i64>,
    /// The actor chain of a delegated token (RFC 8693 section 4.1).
    pub act: Option<Value>,
    /// The token expires no later than this (an exchanged token outlives not its subject
    /// token).
    pub expires_at_most: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: u64,
    pub expires_at: i64,
}

/// The claims of an access token being issued (RFC 9068 section 2.2), serialised as they are,
/// without an intermediate `serde_json::Value`.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: &'a str,
    client_id: &'a str,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "scope_string"
    )]
    scope: Option<&'a Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Value>,
}

/// `aud`: a string for one audience, an array for several (RFC 7519 section 4.1.3).
#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> Audience<'a> {
    fn of(audiences: &'a [String]) -> Self {
        match audiences {
            [one] => Self::One(one),
            many => Self::Many(many),
        }
    }
}

/// The space-separated `scope` string (RFC 9068 section 2.2.3).
fn scope_string<S: serde::Serializer>(scope: &Option<&Scope>, s: S) -> Result<S::Ok, S::Error> {
    match scope {
        Some(scope) => s.collect_str(scope),
        None => s.serialize_none(),
    }
}

/// Claims of a verified, unexpired access token issued by this server.
#[derive(Debug, Clone)]
pub struct AccessTokenClaims {
    pub claims: Value,
    pub jti: String,
    pub client_id: String,
    pub sub: String,
    pub exp: i64,
    pub scope: Scope,
}

/// The `aud` claim as a list (RFC 7519 section 4.1.3: a string or an array of strings).
pub fn audiences(claims: &Value) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl Provider {
    pub fn issue_access_token(&self, g: AccessTokenGrant<'_>) -> OAuthResult<IssuedAccessToken> {
        let iat = now();
        let mut exp = iat + self.settings.tokens.access_token_ttl as i64;
        if let Some(most) = g.expires_at_most {
            exp = exp.min(most);
        }
        let ttl = u64::try_from(exp - iat).unwrap_or(0);
        let jti = random_token();
        let claims = Claims {
            iss: self.issuer(),
            sub: g.subject,
            aud: Audience::of(g.audience),
            exp,
            iat,
            nbf: iat,
            jti: &jti,
            client_id: g.client.id.as_str(),
            scope: (!g.scope.is_empty()).then_some(g.scope),
            auth_time: g.auth_time,
            act: g.act,
        };
        let alg = g
            .client
            .access_token_alg
            .unwrap_or(self.settings.tokens.access_token_alg);
        let token = self.keys.sign(alg, ACCESS_TOKEN_TYP, &claims)?;
        // No token this server could not parse itself (at introspection, revocation, or as
        // a subject token): with every scope a client may have, or a long delegation chain,
        // a token could grow past the limit. Refused before anything is stored.
        if token.len() > MAX_TOKEN_LEN {
            return Err(OAuthError::invalid_request(format!(
                "the access token would be longer than {MAX_TOKEN_LEN} bytes; \
                 ask for fewer scopes or audiences"
            )));
        }
        Ok(IssuedAccessToken {
            token,
            jti,
            expires_in: ttl,
            expires_at: exp,
        })
    }

    /// The default `aud` when a request names no resource: the client's registered
    /// audiences, else the configured default, else the issuer.
    pub fn default_audience(&self, client: &Client) -> Vec<String> {
        if !client.audiences.is_empty() {
            return client
                .audiences
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect();
        }
        match &self.settings.tokens.default_audience {
            Some(a) => vec![a.clone()],
            None => vec![self.issuer().to_owned()],
        }
    }

    /// Whether a verified access token (`verify_access_token`) is still live: not revoked,
    /// and its client still registered (a deleted client's tokens die with it).
    pub async fn is_live(&self, at: &AccessTokenClaims) -> OAuthResult<bool> {
        if self.revocations.is_access_token_revoked(&at.jti).await? {
            return Ok(false);
        }
        Ok(match ClientId::parse(&at.client_id) {
            Ok(id) => self.clients.find_client(&id).await?.is_some(),
            Err(_) => false,
        })
    }

    /// A verified (`verify_access_token`) and live (`is_live`) access token of this server.
    pub async fn live_access_token(&self, token: &str) -> OAuthResult<Option<AccessTokenClaims>> {
        let Some(at) = self.verify_access_token(token) else {
            return Ok(None);
        };
        // An already-expired token is refused by `verify_access_token`; this guards the
        // instant between the two checks.
        if at.exp <= now() || !self.is_live(&at).await? {
            return Ok(None);
        }
        Ok(Some(at))
    }

    /// Verifies signature, `typ`, `iss` and expiry. Revocation is checked separately
    /// (it needs storage). Returns `None` for anything that is not a live access token of ours.
    pub fn verify_access_token(&self, token: &str) -> Option<AccessTokenClaims> {
        let v = self.keys.verify(token)?;
        let typ = v.header.get("typ").and_then(Value::as_str)?;
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
            && !typ.eq_ignore_ascii_case("application/at+jwt")
        {
            return None;
        }
        let c = v.claims;
        if c.get("iss").and_then(Value::as_str)? != self.issuer() {
            return None;
        }
        let exp = c.get("exp").and_then(Value::as_i64)?;
        if exp <= now() {
            return None;
        }
        let scope = match c.get("scope").and_then(Value::as_str) {
            Some(s) => Scope::parse(s).ok()?,
            None => Scope::default(),
        };
        Some(AccessTokenClaims {
            jti: c.get("jti").and_then(Value::as_str)?.to_owned(),
            client_id: c.get("client_id").and_then(Value::as_str)?.to_owned(),
            sub: c.get("sub").and_then(Value::as_str)?.to_owned(),
            exp,
            scope,
            claims: c,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims<'a>(aud: &'a [String], scope: Option<&'a Scope>) -> Claims<'a> {
        Claims {
            iss: "https://issuer.example",
            sub: "svc",
            aud: Audience::of(aud),
            exp: 200,
            iat: 100,
            nbf: 100,
            jti: "j1",
            client_id: "svc",
            scope,
            auth_time: None,
            act: None,
        }
    }

    #[test]
    fn claims_serialise_as_rfc_9068_asks() {
        let one = ["https://api.example".to_owned()];
        let scope = Scope::parse("read write").unwrap();
        let v = serde_json::to_value(claims(&one, Some(&scope))).unwrap();
        assert_eq!(
            v,
            json!({"iss": "https://issuer.example", "sub": "svc", "aud": "https://api.example",
                   "exp": 200, "iat": 100, "nbf": 100, "jti": "j1", "client_id": "svc",
                   "scope": "read write"})
        );
        // Several audiences: an array; no scope, auth_time or act: no member at all.
        let two = ["a".to_owned(), "b".to_owned()];
        let v = serde_json::to_value(claims(&two, None)).unwrap();
        assert_eq!(v["aud"], json!(["a", "b"]));
        for absent in ["scope", "auth_time", "act"] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
        let mut c = claims(&one, None);
        c.auth_time = Some(90);
        c.act = Some(json!({"sub": "actor"}));
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["auth_time"], 90);
        assert_eq!(v["act"], json!({"sub": "actor"}));
    }
}
