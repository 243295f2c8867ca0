//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic` and `client_secret_post` (RFC 6749 section 2.3.1),
//! `private_key_jwt` (RFC 7523 section 2.2 and 3, OpenID Connect Core section 9), and
//! `none` for public clients (which only identify themselves).
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::{OAuthError, OAuthResult};
use super::model::Client;
use super::params::{Params, decode_component};
use super::throttle::{self, FailureStats, Verdict};
use super::{Provider, now};
use crate::domain::{AuthMethod, ClientId};
use crate::keys::{self, JwkSet, KeyError};
use crate::read_ahead::Settled;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The credentials found in one request, before they are checked.
#[derive(Debug, Default)]
pub struct PresentedCredentials {
    /// The raw `Authorization` header value, if any.
    pub authorization: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client: Arc<Client>,
    pub method: AuthMethod,
}

/// A generic message: which check failed is logged, not told to the caller.
const AUTH_FAILED: &str = "client authentication failed";

impl Provider {
    /// Authenticates the client of a request. `endpoint` is the URL the request was sent to
    /// (an acceptable `aud` of a client assertion besides the issuer and token endpoint);
    /// `source_ip` is where it came from, for throttling failures per (client id, address)
    /// and per client id (`throttle`). While a pair is throttled the answer is the same
    /// `invalid_client` as for a wrong secret, even for the right one: a guesser learns
    /// nothing, not even that it is being throttled. A success writes nothing.
    pub async fn authenticate_client(
        &self,
        authorization: Option<&str>,
        params: &Params,
        endpoint: &str,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<AuthenticatedClient> {
        // A malformed header is refused before anything is counted, as it names no client.
        let basic = authorization.map(parse_basic).transpose()?;
        let Some(id) = presented_client_id(basic.as_ref(), params) else {
            return self.check_client(basic, params, endpoint).await;
        };
        let ip = source_ip.map(|ip| ip.to_string()).unwrap_or_default();
        let keys = ThrottleKeys {
            pair: self.hasher.hash(&format!("client-pair\n{id}\n{ip}")),
            id: &id,
            all: OnceLock::new(),
        };
        let t = now();
        if let Some(until) = self.client_locked_until(&keys, t).await?
            && until > t
        {
            crate::audit::Event::new(crate::audit::Kind::ClientAuthThrottled)
                .client(id.as_str())
                .from(source_ip)
                .retry_after((until - t).max(0) as u64)
                .emit();
            return Err(OAuthError::invalid_client(
                AUTH_FAILED,
                authorization.is_some(),
            ));
        }
        let result = self.check_client(basic, params, endpoint).await;
        if matches!(result, Err(OAuthError::InvalidClient { .. })) {
            self.record_client_failure(&keys, t).await?;
        }
        result
    }

    /// When the pair is locked (or delayed) until, from this node's memory when fresh, else
    /// from the database.
    async fn client_locked_until(
        &self,
        keys: &ThrottleKeys<'_>,
        t: i64,
    ) -> OAuthResult<Option<i64>> {
        let settled = self
            .client_lock_states
            .get(&keys.pair)
            .or_read("a client's failure counts", || async {
                self.client_failure_stats(&keys.pair, keys.all(self), t)
                    .await
            })
            .await?;
        let ((pair, all), read_at) = match settled {
            Settled::Cached(known) => return Ok(known),
            Settled::Read { value, read_at } => (value, read_at),
        };
        let until = locked_until(
            throttle::verdict(&self.settings.client_auth, pair, all, t),
            t,
        );
        self.client_lock_states.put(&keys.pair, until, read_at);
        Ok(until)
    }

    async fn record_client_failure(&self, keys: &ThrottleKeys<'_>, t: i64) -> OAuthResult<()> {
        let read_at = Instant::now();
        let (pair, all) = self
            .client_failure_stats(&keys.pair, keys.all(self), t)
            .await?;
        self.login_throttle
            .record_failure(&[&keys.pair, keys.all(self)], t)
            .await?;
        let limits = &self.settings.client_auth;
        let after = throttle::verdict(limits, pair.plus_one(t), all.plus_one(t), t);
        self.client_lock_states
            .put(&keys.pair, locked_until(after, t), read_at);
        Ok(())
    }

    async fn client_failure_stats(
        &self,
        pair_key: &str,
        all_key: &str,
        t: i64,
    ) -> OAuthResult<(FailureStats, FailureStats)> {
        let since = t - self.settings.client_auth.failure_window as i64;
        Ok(self
            .login_throttle
            .failure_stats(pair_key, all_key, since)
            .await?)
    }

    /// The credential checks proper, without throttling.
    async fn check_client(
        &self,
        basic: Option<BasicCredentials>,
        params: &Params,
        endpoint: &str,
    ) -> OAuthResult<AuthenticatedClient> {
        let post_secret = params.get("client_secret");
        let assertion = params.get("client_assertion");
        let assertion_type = params.get("client_assertion_type");
        let body_id = params.get("client_id");

        // RFC 6749 section 2.3: "The client MUST NOT use more than one authentication
        // method in each request."
        let methods = [basic.is_some(), post_secret.is_some(), assertion.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if methods > 1 {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method was used",
            ));
        }
        if assertion.is_some() != assertion_type.is_some() {
            return Err(OAuthError::invalid_request(
                "client_assertion and client_assertion_type must be sent together",
            ));
        }

        if let Some(b) = basic {
            if body_id.is_some_and(|id| id != b.id && id != b.raw_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Authorization header",
                ));
            }
            let method = AuthMethod::ClientSecretBasic;
            let decoded = self.check_secret(&b.id, &b.secret, method, true).await;
            // RFC 6749 section 2.3.1 form-encodes id and secret before base64, but many
            // clients (curl -u, requests, Authlib) do not; a secret with '+' or '%' would then
            // never match. The raw reading is tried second.
            if decoded.is_err() && (b.raw_id != b.id || b.raw_secret != b.secret) {
                let raw = self
                    .check_secret(&b.raw_id, &b.raw_secret, method, true)
                    .await;
                if raw.is_ok() {
                    return raw;
                }
            }
            return decoded;
        }
        if let Some(secret) = post_secret {
            let id = body_id.ok_or_else(|| {
                OAuthError::invalid_request("client_secret was sent without client_id")
            })?;
            return self
                .check_secret(id, secret, AuthMethod::ClientSecretPost, false)
                .await;
        }
        if let (Some(assertion), Some(kind)) = (assertion, assertion_type) {
            if kind != JWT_BEARER_ASSERTION {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type must be {JWT_BEARER_ASSERTION}"
                )));
            }
            return self.check_assertion(assertion, body_id, endpoint).await;
        }
        let Some(id) = body_id else {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
                false,
            ));
        };
        let client = self.find_client_for_auth(id, false).await?;
        if !client.is_public() {
            tracing::info!(client_id = %client.id, "confidential client sent no credentials");
            return Err(OAuthError::invalid_client(AUTH_FAILED, false));
        }
        Ok(AuthenticatedClient {
            client,
            method: AuthMethod::None,
        })
    }

    async fn find_client_for_auth(&self, id: &str, basic: bool) -> OAuthResult<Arc<Client>> {
        let Ok(id) = ClientId::parse(id) else {
            return Err(OAuthError::invalid_client(AUTH_FAILED, basic));
        };
        match self.clients.find_client(&id).await? {
            Some(c) => Ok(c),
            None => {
                tracing::info!(client_id = %id, "unknown client");
                Err(OAuthError::invalid_client(AUTH_FAILED, basic))
            }
        }
    }

    async fn check_secret(
        &self,
        id: &str,
        secret: &str,
        method: AuthMethod,
        basic: bool,
    ) -> OAuthResult<AuthenticatedClient> {
        let client = match self.find_client_for_auth(id, basic).await {
            Ok(c) => c,
            Err(e) => {
                // Same work as for a known client, so timing does not reveal which ids exist.
                let _ = self.hasher.verify(secret, "");
                return Err(e);
            }
        };
        // Secret clients may use either secret method: both carry the same credential.
        let ok = client.auth_method.uses_secret()
            && client
                .secret_hash
                .as_deref()
                .is_some_and(|stored| self.hasher.verify(secret, stored));
        if !ok {
            tracing::info!(client_id = %client.id, method = %method, "client secret rejected");
            return Err(OAuthError::invalid_client(AUTH_FAILED, basic));
        }
        Ok(AuthenticatedClient { client, method })
    }

    /// RFC 7523 section 3 checks on a `private_key_jwt` assertion.
    async fn check_assertion(
        &self,
        assertion: &str,
        body_id: Option<&str>,
        endpoint: &str,
    ) -> OAuthResult<AuthenticatedClient> {
        let fail = |why: &str| {
            tracing::info!(reason = why, "client assertion rejected");
            OAuthError::invalid_client(format!("invalid client assertion: {why}"), false)
        };
        let unverified = keys::decode_unverified(assertion).map_err(|_| fail("malformed JWT"))?;
        let iss = unverified.claims.get("iss").and_then(|v| v.as_str());
        let sub = unverified.claims.get("sub").and_then(|v| v.as_str());
        let (Some(iss), Some(sub)) = (iss, sub) else {
            return Err(fail("iss and sub are required"));
        };
        if iss != sub {
            return Err(fail("iss and sub must both be the client_id"));
        }
        if body_id.is_some_and(|b| b != sub) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the client assertion subject",
            ));
        }
        let client = self.find_client_for_auth(sub, false).await?;
        if client.auth_method != AuthMethod::PrivateKeyJwt {
            return Err(fail("client is not registered for private_key_jwt"));
        }
        let verified = self
            .verify_client_jws(&client, assertion)
            .await
            .map_err(|e| match e {
                OAuthError::Internal(e) => OAuthError::Internal(e),
                _ => fail("signature does not verify with the client's registered keys"),
            })?;
        let claims = &verified.claims;
        let now = now();
        let skew = self.settings.tokens.clock_skew as i64;

        let aud_ok = audience_values(claims.get("aud")).iter().any(|a| {
            let a = a.trim_end_matches('/');
            a == self.issuer() || a == self.endpoint("/token") || a == endpoint
        });
        if !aud_ok {
            return Err(fail("aud must be the issuer or the token endpoint"));
        }
        let exp = claims
            .get("exp")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| fail("exp is required"))?;
        let iat = match claims.get("iat") {
            None => None,
            Some(v) => match v.as_i64() {
                Some(iat) if iat <= now + skew => Some(iat),
                _ => return Err(fail("iat is in the future")),
            },
        };
        if let Some(nbf) = claims.get("nbf") {
            match nbf.as_i64() {
                Some(nbf) if nbf <= now + skew => {}
                _ => return Err(fail("the assertion is not valid yet")),
            }
        }
        // RFC 7523 section 3 lets us refuse an `exp` "unreasonably far in the future". Rather
        // than refuse long-lived assertions outright (some client libraries default to an
        // hour), an assertion is honoured for at most `client_assertion_max_lifetime` after
        // its `iat`; without `iat`, `exp` itself must be within that bound. This also bounds
        // how long its `jti` must be remembered.
        let max_lifetime = self.settings.tokens.client_assertion_max_lifetime as i64;
        let expires = match iat {
            Some(iat) => exp.min(iat + max_lifetime),
            None if exp > now + max_lifetime + skew => {
                return Err(fail("exp is too far in the future"));
            }
            None => exp,
        };
        if expires + skew <= now {
            return Err(fail("the assertion has expired"));
        }
        let jti = claims
            .get("jti")
            .and_then(|v| v.as_str())
            .filter(|j| !j.is_empty() && j.len() <= 256 && !j.contains('\0'))
            .ok_or_else(|| fail("jti is required"))?;
        if !self
            .replay
            .record_assertion_jti(&client.id, jti, expires + skew)
            .await?
        {
            return Err(fail("the assertion was already used"));
        }
        Ok(AuthenticatedClient {
            client,
            method: AuthMethod::PrivateKeyJwt,
        })
    }

    /// Verifies a JWS from a client against its registered JWKS or JWKS URI; on an unknown
    /// key the JWKS URI is fetched again once (the client may have rotated its keys).
    pub async fn verify_client_jws(
        &self,
        client: &Client,
        token: &str,
    ) -> OAuthResult<keys::VerifiedJws> {
        let invalid = || OAuthError::invalid_client(AUTH_FAILED, false);
        if let Some(doc) = &client.jwks {
            let set = keys::parse_jwks(doc).map_err(|e| {
                OAuthError::Internal(anyhow::anyhow!(
                    "stored JWKS of client {} is invalid: {e}",
                    client.id
                ))
            })?;
            return keys::verify_with_jwks(token, &set).map_err(|_| invalid());
        }
        let Some(uri) = &client.jwks_uri else {
            return Err(invalid());
        };
        let fetch = |force: bool| async move {
            self.remote_jwks.get(uri, force).await.map_err(|e| {
                tracing::warn!(client_id = %client.id, error = %e, "could not fetch client JWKS");
                invalid()
            })
        };
        let set: Arc<JwkSet> = fetch(false).await?;
        match keys::verify_with_jwks(token, &set) {
            Ok(v) => Ok(v),
            Err(KeyError::NoMatchingKey) => {
                let set = fetch(true).await?;
                keys::verify_with_jwks(token, &set).map_err(|_| invalid())
            }
            Err(_) => Err(invalid()),
        }
    }
}

/// The throttle's keys for one authentication attempt: keyed hashes, so ids that were never
/// registered (or were a secret pasted in the wrong field) are not stored in clear. `pair`
/// (client id and address) is made at once, as it keys the cached lock states; the key of
/// the client id alone only when the database is read or written (once, however often it
/// is asked for), which a request that finds its lock state cached never does.
struct ThrottleKeys<'a> {
    pair: String,
    id: &'a str,
    all: OnceLock<String>,
}

impl ThrottleKeys<'_> {
    fn all(&self, provider: &Provider) -> &str {
        self.all
            .get_or_init(|| provider.hasher.hash(&format!("client\n{}", self.id)))
    }
}

fn locked_until(v: Verdict, t: i64) -> Option<i64> {
    (!v.is_allowed()).then(|| t + v.retry_after() as i64)
}

/// The client id an authentication attempt claims, before anything is checked: from the
/// Basic header, the `client_id` parameter, or the `sub` of a client assertion.
fn presented_client_id(basic: Option<&BasicCredentials>, params: &Params) -> Option<String> {
    let id = match basic {
        Some(b) => Some(b.id.clone()),
        None => params.get("client_id").map(str::to_owned).or_else(|| {
            let assertion = params.get("client_assertion")?;
            let claims = keys::decode_unverified(assertion).ok()?.claims;
            claims.get("sub")?.as_str().map(str::to_owned)
        }),
    }?;
    // Longer than any valid client id: still throttled, under a bounded key.
    Some(id.chars().take(256).collect())
}

/// `aud` may be a string or an array of strings (RFC 7519 section 4.1.3).
pub fn audience_values(aud: Option<&serde_json::Value>) -> Vec<String> {
    match aud {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Parses `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 section 2.3.1, which
/// form-encodes both parts before base64). Any malformation is `invalid_client` over Basic.
struct BasicCredentials {
    /// Form-decoded, as RFC 6749 section 2.3.1 specifies.
    id: String,
    secret: String,
    /// As sent, for clients that do not form-encode.
    raw_id: String,
    raw_secret: String,
}

fn parse_basic(header: &str) -> OAuthResult<BasicCredentials> {
    let bad = || OAuthError::invalid_client("malformed Basic authorization header", true);
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported authorization scheme; use Basic",
            true,
        ));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (raw_id, raw_secret) = decoded.split_once(':').ok_or_else(bad)?;
    if raw_id.is_empty() {
        return Err(bad());
    }
    Ok(BasicCredentials {
        id: decode_component(raw_id.as_bytes()).unwrap_or_else(|_| raw_id.to_owned()),
        secret: decode_component(raw_secret.as_bytes()).unwrap_or_else(|_| raw_secret.to_owned()),
        raw_id: raw_id.to_owned(),
        raw_secret: raw_secret.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_decodes_form_encoded_parts() {
        let h = format!("Basic {}", STANDARD.encode("my%3Aclient:p%40ss+word"));
        let b = parse_basic(&h).unwrap();
        assert_eq!(
            (b.id.as_str(), b.secret.as_str()),
            ("my:client", "p@ss word")
        );
        assert_eq!(
            (b.raw_id.as_str(), b.raw_secret.as_str()),
            ("my%3Aclient", "p%40ss+word")
        );
        assert!(parse_basic("Basic !!!").is_err());
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
    }
}
