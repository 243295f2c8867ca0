//! The authorization endpoint (RFC 6749 section 3.1 and 4.1.1, OpenID Connect Core section
//! 3.1.2): validate the request, then decide whether the person must sign in, must consent,
//! or can be sent back with a code.
//!
//! Until the client and redirect URI are validated, errors are shown on an error page and
//! never redirected (RFC 6749 section 4.1.2.1, RFC 9700 section 4.1); after that they go
//! back to the client with `state` and `iss` (RFC 9207).
use std::sync::Arc;

use url::Url;

use super::error::OAuthError;
use super::model::{Client, User};
use super::params::Params;
use super::{Provider, grants};
use crate::domain::{ClientId, CodeChallenge, GrantType, RedirectUri, Scope};

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Arc<Client>,
    pub redirect_uri: RedirectUri,
    /// Whether `redirect_uri` was in the request (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub state: Option<String>,
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Preferred languages for the pages, BCP 47 tags separated by spaces (OpenID Connect
    /// Core section 3.1.2.1); unsupported ones are ignored, never an error.
    pub ui_locales: Option<String>,
    /// OpenID Connect Core section 3.1.2.1 `acr_values`: requested authentication context
    /// classes, in order of preference (`two_factor::sign_in::acr_values_demand_mfa`).
    pub acr_values: Option<String>,
    pub audience: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Where an authorization request cannot go on.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Show an error page: the client or the redirect URI could not be trusted.
    Page(OAuthError),
    /// Redirect the browser to this URL (an error response at the client's redirect URI).
    Redirect(String),
}

impl From<OAuthError> for AuthorizeError {
    fn from(e: OAuthError) -> Self {
        Self::Page(e)
    }
}

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_UI_LOCALES: usize = 256;

impl Provider {
    /// Validates an authorization request.
    pub async fn parse_authorization_request(
        &self,
        params: &Params,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        // 1. The client: shown on a page when unknown.
        let client_id = params
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_request("client_id is missing"))?;
        let id = ClientId::parse(client_id)
            .map_err(|_| OAuthError::invalid_request("client_id is malformed"))?;
        let client = self
            .clients
            .find_client(&id)
            .await
            .map_err(OAuthError::from)?
            .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?;

        // 2. The redirect URI: exact string match, but for the port of a loopback
        // registration (RFC 9700 section 2.1, RFC 8252 section 7.3).
        let (redirect_uri, given) = match params.get("redirect_uri") {
            Some(r) => match client.redirect_uris.iter().find_map(|u| u.matches(r)) {
                Some(u) => (u, true),
                None => {
                    return Err(OAuthError::invalid_request(
                        "redirect_uri is not registered for this client",
                    )
                    .into());
                }
            },
            None => match client.redirect_uris.as_slice() {
                // RFC 6749 section 3.1.2.3: may be omitted when exactly one is registered,
                // except in OpenID Connect requests (Core section 3.1.2.1).
                [only]
                    if !params
                        .get("scope")
                        .unwrap_or("")
                        .split(' ')
                        .any(|s| s == "openid") =>
                {
                    (only.clone(), false)
                }
                _ => return Err(OAuthError::invalid_request("redirect_uri is missing").into()),
            },
        };
        let state = params.get("state").map(str::to_owned);
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(OAuthError::invalid_request("state is too long").into());
        }
        // From here on errors go back to the client.
        let back = |e: OAuthError| {
            AuthorizeError::Redirect(self.error_redirect(&redirect_uri, state.as_deref(), &e))
        };

        if params.get("request").is_some() {
            return Err(back(OAuthError::RequestNotSupported(
                "request objects are not supported".into(),
            )));
        }
        if params.get("request_uri").is_some() {
            return Err(back(OAuthError::RequestUriNotSupported(
                "request_uri is not supported".into(),
            )));
        }
        match params.get("response_type") {
            None => {
                return Err(back(OAuthError::invalid_request(
                    "response_type is missing",
                )));
            }
            Some("code") => {}
            Some(_) => {
                return Err(back(OAuthError::UnsupportedResponseType(
                    "only response_type=code is supported".into(),
                )));
            }
        }
        if let Some(mode) = params.get("response_mode")
            && mode != "query"
        {
            return Err(back(OAuthError::invalid_request(
                "only response_mode=query is supported",
            )));
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(back(OAuthError::UnauthorizedClient(
                "this client may not use the authorization code flow".into(),
            )));
        }
        let scope = grants::requested_scope(params, &client.scope, &client.scope).map_err(back)?;
        let audience = grants::requested_audience(params, &client).map_err(back)?;

        // PKCE (RFC 7636 section 4.4.1; required for every client unless opted out).
        let code_challenge = match (
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        ) {
            (None, Some(_)) => {
                return Err(back(OAuthError::invalid_request(
                    "code_challenge_method without code_challenge",
                )));
            }
            (None, None) => {
                if client.is_public() || client.require_pkce {
                    return Err(back(OAuthError::invalid_request(
                        "code_challenge is required (PKCE with S256)",
                    )));
                }
                None
            }
            (Some(c), method) => {
                // RFC 7636 section 4.3 defaults to plain, which is not supported.
                if method != Some("S256") {
                    return Err(back(OAuthError::invalid_request(
                        "code_challenge_method must be S256",
                    )));
                }
                Some(CodeChallenge::parse(c).map_err(|e| back(OAuthError::invalid_request(e.0)))?)
            }
        };

        let nonce = params.get("nonce").map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(back(OAuthError::invalid_request("nonce is too long")));
        }
        let mut prompt = Prompt::default();
        for p in params
            .get("prompt")
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
        {
            match p {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                // select_account: there is one account per session; nothing to select.
                "select_account" => {}
                other => {
                    return Err(back(OAuthError::invalid_request(format!(
                        "unsupported prompt value {:?}",
                        other.chars().take(32).collect::<String>()
                    ))));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            // OpenID Connect Core section 3.1.2.1.
            return Err(back(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            )));
        }
        let max_age = match params.get("max_age") {
            None => None,
            Some(m) => Some(m.parse::<u32>().map(i64::from).map_err(|_| {
                back(OAuthError::invalid_request(
                    "max_age must be a non-negative integer",
                ))
            })?),
        };
        let login_hint = params
            .get("login_hint")
            .map(|h| h.chars().take(64).collect::<String>());

        let ui_locales = params
            .get("ui_locales")
            .map(|v| v.chars().take(MAX_UI_LOCALES).collect::<String>());

        let acr_values = params
            .get("acr_values")
            .map(|v| v.chars().take(MAX_UI_LOCALES).collect::<String>());

        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            redirect_uri_given: given,
            state,
            scope,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint,
            ui_locales,
            acr_values,
            audience,
        })
    }

    /// An error response at the client's redirect URI (RFC 6749 section 4.1.2.1, RFC 9207).
    pub fn error_redirect(
        &self,
        redirect_uri: &RedirectUri,
        state: Option<&str>,
        e: &OAuthError,
    ) -> String {
        let mut pairs = vec![("error", e.code().to_owned())];
        if let Some(d) = e.description() {
            pairs.push(("error_description", d));
        }
        if let OAuthError::Internal(cause) = e {
            tracing::error!(error = format!("{cause:#}"), "authorization request failed");
        }
        self.redirect_with(redirect_uri, state, pairs)
    }

    pub(crate) fn redirect_with(
        &self,
        redirect_uri: &RedirectUri,
        state: Option<&str>,
        mut pairs: Vec<(&str, String)>,
    ) -> String {
        if let Some(s) = state {
            pairs.push(("state", s.to_owned()));
        }
        pairs.push(("iss", self.issuer().to_owned()));
        match Url::parse(redirect_uri.as_str()) {
            Ok(mut url) => {
                {
                    let mut q = url.query_pairs_mut();
                    for (k, v) in &pairs {
                        q.append_pair(k, v);
                    }
                }
                url.to_string()
            }
            // Registered URIs are parsed at registration; this cannot happen.
            Err(_) => redirect_uri.as_str().to_owned(),
        }
    }
}

/// What to do next with a valid request.
#[derive(Debug)]
pub enum AuthorizeStep {
    /// Show the login page.
    Login(Box<AuthorizationRequest>),
    /// Show the consent page for `to_approve` (all requested scopes not yet approved).
    Consent {
        request: Box<AuthorizationRequest>,
        user: User,
        to_approve: Scope,
        previously_approved: bool,
    },
    /// Send the browser here (a code, or an error for the client).
    Redirect(String),
    /// The session has one factor and this request needs two (client policy, global
    /// policy or `acr_values`): prove a second factor first (step-up), without a new
    /// password.
    StepUp {
        request: Box<AuthorizationRequest>,
        session: Box<super::model::Session>,
    },
}

impl AuthorizationRequest {
    /// The text shown for the client.
    pub fn client_name(&self) -> &str {
        if self.client.name.is_empty() {
            self.client.id.as_str()
        } else {
            &self.client.name
        }
    }
}
