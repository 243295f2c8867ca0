//! The demo app as a relying party: OpenID Connect over HTTP against the server's public
//! endpoints only (discovery, /authorize, /token, /jwks, /userinfo), as a third-party app
//! would. ID tokens are checked as OpenID Connect Core section 3.1.3.7 asks: signature
//! against the published JWKS, `iss`, `aud`, `azp`, `exp`, and the `nonce` of this sign-in.
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::crypto::{random_token, sha256_b64url};
use crate::keys::{parse_jwks, verify_with_jwks};

/// Allowed clock difference on `exp` / `iat`, seconds.
const SKEW: i64 = 60;

/// The part of the provider metadata (OpenID Connect Discovery section 3) the demo uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub userinfo_endpoint: Url,
    pub jwks_uri: Url,
    /// RP-initiated logout, when the server offers it.
    pub end_session_endpoint: Option<Url>,
}

/// A sign-in in progress: what the callback must match.
#[derive(Debug, Clone)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// The token response (RFC 6749 section 5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

pub struct RelyingParty {
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
}

impl RelyingParty {
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .context("failed to build the HTTP client")?;
        Ok(Self {
            http,
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Discovery; the document must name the issuer it was fetched from (section 4.3).
    pub async fn discover(&self) -> anyhow::Result<Metadata> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let meta: Metadata = self
            .get_json(&url, None)
            .await
            .context("discovery failed")?;
        ensure!(
            meta.issuer == self.issuer,
            "discovery names issuer {:?}, expected {:?}",
            meta.issuer,
            self.issuer
        );
        Ok(meta)
    }

    /// A fresh state, nonce and PKCE verifier, and the URL to send the browser to.
    pub fn authorization_url(&self, meta: &Metadata) -> (Url, Pending) {
        let pending = Pending {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
        };
        let mut url = meta.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid profile email offline_access")
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair(
                "code_challenge",
                &sha256_b64url(pending.verifier.as_bytes()),
            )
            .append_pair("code_challenge_method", "S256");
        (url, pending)
    }

    /// The authorization code grant with the PKCE verifier, then the ID token checks.
    pub async fn exchange(
        &self,
        meta: &Metadata,
        code: &str,
        pending: &Pending,
    ) -> anyhow::Result<(Tokens, Value)> {
        let tokens = self
            .token_request(
                meta,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", &pending.verifier),
                ],
            )
            .await?;
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| anyhow!("the token response has no id_token"))?;
        let claims = self
            .validate_id_token(meta, id_token, Some(&pending.nonce))
            .await?;
        Ok((tokens, claims))
    }

    /// The refresh token grant; a new ID token, if any, is checked like the first (without
    /// a nonce, OpenID Connect Core section 12.2) and must name the same person.
    pub async fn refresh(
        &self,
        meta: &Metadata,
        refresh_token: &str,
        sub: &str,
    ) -> anyhow::Result<(Tokens, Option<Value>)> {
        let tokens = self
            .token_request(
                meta,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
            )
            .await?;
        let claims = match tokens.id_token.as_deref() {
            Some(t) => {
                let claims = self.validate_id_token(meta, t, None).await?;
                ensure!(
                    claims["sub"] == sub,
                    "the refreshed ID token names another person"
                );
                Some(claims)
            }
            None => None,
        };
        Ok((tokens, claims))
    }

    /// The userinfo answer for an access token (OpenID Connect Core section 5.3); its `sub`
    /// must be the ID token's (section 5.3.2).
    pub async fn userinfo(
        &self,
        meta: &Metadata,
        access_token: &str,
        sub: &str,
    ) -> anyhow::Result<Value> {
        let info: Value = self
            .get_json(meta.userinfo_endpoint.as_str(), Some(access_token))
            .await
            .context("the userinfo request failed")?;
        ensure!(
            info["sub"] == sub,
            "userinfo names another person than the ID token"
        );
        Ok(info)
    }

    async fn token_request(
        &self,
        meta: &Metadata,
        form: &[(&str, &str)],
    ) -> anyhow::Result<Tokens> {
        let resp = self
            .http
            .post(meta.token_endpoint.clone())
            .basic_auth(
                form_encode(&self.client_id),
                Some(form_encode(&self.client_secret)),
            )
            .form(form)
            .send()
            .await
            .context("the token endpoint did not answer")?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .context("the token response is not JSON")?;
        if !status.is_success() {
            bail!(
                "the token endpoint refused: {} {}",
                body["error"].as_str().unwrap_or("(no error code)"),
                body["error_description"].as_str().unwrap_or("")
            );
        }
        serde_json::from_value(body).context("the token response lacks access_token")
    }

    async fn validate_id_token(
        &self,
        meta: &Metadata,
        token: &str,
        nonce: Option<&str>,
    ) -> anyhow::Result<Value> {
        let jwks_text = self
            .http
            .get(meta.jwks_uri.clone())
            .send()
            .await
            .context("the JWKS request failed")?
            .error_for_status()
            .context("the JWKS request failed")?
            .text()
            .await
            .context("the JWKS response was cut off")?;
        let jwks = parse_jwks(&jwks_text).map_err(|e| anyhow!("the JWKS is invalid: {e}"))?;
        let verified = verify_with_jwks(token, &jwks)
            .map_err(|e| anyhow!("the ID token signature does not verify: {e}"))?;
        let c = verified.claims;
        ensure!(
            c["iss"] == meta.issuer.as_str(),
            "the ID token's iss is not the issuer"
        );
        let aud_ok = match &c["aud"] {
            Value::String(a) => a == &self.client_id,
            Value::Array(list) => list.iter().any(|a| a == self.client_id.as_str()),
            _ => false,
        };
        ensure!(aud_ok, "the ID token is not addressed to this client (aud)");
        if let Some(azp) = c.get("azp") {
            ensure!(
                azp == self.client_id.as_str(),
                "the ID token's azp is another client"
            );
        }
        let now = unix_now();
        let exp = c["exp"]
            .as_i64()
            .ok_or_else(|| anyhow!("the ID token has no exp"))?;
        ensure!(exp + SKEW > now, "the ID token has expired");
        if let Some(iat) = c["iat"].as_i64() {
            ensure!(iat - SKEW <= now, "the ID token was issued in the future");
        }
        if let Some(expected) = nonce {
            let got = c["nonce"].as_str().unwrap_or("");
            ensure!(
                crate::crypto::ct_eq(got.as_bytes(), expected.as_bytes()),
                "the ID token's nonce is not the one this sign-in sent"
            );
        }
        ensure!(c["sub"].is_string(), "the ID token has no sub");
        Ok(c)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> anyhow::Result<T> {
        let mut req = self.http.get(url);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{url} did not answer"))?;
        let resp = resp
            .error_for_status()
            .with_context(|| format!("{url} answered with an error"))?;
        resp.json()
            .await
            .with_context(|| format!("{url} did not answer JSON"))
    }
}

/// RFC 6749 section 2.3.1: the client id and secret are form-encoded before Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
