//! Where every successful sign-in ends, whatever proved it (a password or a passkey, then
//! perhaps a second factor): `finish_primary_sign_in` asks the two-factor hook
//! whether a further factor is needed, and `complete_sign_in` creates the session and sends
//! the browser on. Also the two kinds of login ticket (an authorization request to continue,
//! or an address to return to after `/signin`) and the rules for `return_to`.
use std::net::IpAddr;

use url::Url;

use super::authn::{AuthMethod, Authentication};
use super::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeStep};
use super::error::{OAuthError, OAuthResult};
use super::interaction::{Next, redirect_err};
use super::model::{Session, User};
use super::params::Params;
use super::{Provider, device, forward_auth, now};
use crate::crypto::random_token;

/// What a login page carries between the form and the sign-in, sealed (`Provider::seal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginTicket {
    /// An authorization request, as its raw query or form text: continued after sign-in.
    Authorize(String),
    /// A sign-in of its own (`/signin`): the browser goes to this absolute URL afterwards.
    Return(String),
}

const AUTHORIZE_TICKET: &str = "authorize-ticket";
const RETURN_TICKET: &str = "return-ticket";
/// Longest `return_to` accepted.
const MAX_RETURN_TO: usize = 2048;

/// Where a login ticket leads, validated again (the client may have been deleted, the
/// allowed domains changed, since the page was shown).
#[derive(Debug)]
pub enum SignInTarget {
    Authorize(Box<AuthorizationRequest>),
    Return(String),
}

/// What the login page shows and allows for a ticket.
#[derive(Debug, Clone, Default)]
pub struct LoginPrompt {
    /// The application the person is signing in to, if any.
    pub client_name: Option<String>,
    pub ui_locales: Option<String>,
    pub login_hint: Option<String>,
    /// Where the browser is sent after signing in (the page's `form-action` must allow it).
    pub destination: String,
}

/// The circumstances of a sign-in, from the request that completes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignInContext<'a> {
    pub source_ip: Option<IpAddr>,
    /// The `User-Agent` header, for the device label of the session.
    pub user_agent: Option<&'a str>,
    /// The session cookie the browser had: it ends, the new sign-in gets a new session (no
    /// session fixation).
    pub old_session_cookie: Option<&'a str>,
}

/// A further factor the person must prove before a session is created (decided by the
/// two-factor policy, `two_factor::sign_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FurtherFactor {
    /// A second factor the person has: a code from their authenticator, a recovery code,
    /// or one of their passkeys.
    Code,
    /// Two factors are required and the person has no second factor yet (no authenticator,
    /// no passkey): set up an authenticator.
    Enrol,
}

/// A primary sign-in waiting for a further factor: who, how so far, and where to.
#[derive(Debug)]
pub struct PendingSignIn {
    pub auth: Authentication,
    pub ticket: LoginTicket,
}

/// What a successful primary sign-in leads to.
#[derive(Debug)]
#[must_use]
pub enum SignInStep {
    /// A session was created.
    Done(SignedIn),
    /// A further factor is required first; no session exists yet.
    FurtherFactor {
        pending: Box<PendingSignIn>,
        needed: FurtherFactor,
    },
}

/// A new session: set this cookie value, then go on with `next`.
#[derive(Debug)]
pub struct SignedIn {
    pub session_cookie: String,
    pub next: AfterSignIn,
}

#[derive(Debug)]
pub enum AfterSignIn {
    /// Continue the authorization request (consent, or the redirect with a code).
    Authorize(AuthorizeStep),
    /// Send the browser to this URL (a `/signin` return address, already checked).
    Return(String),
}

/// `GET /signin`: what to show.
#[derive(Debug)]
pub enum SignInPage {
    /// Already signed in: go straight to the return address.
    Return(String),
    /// The login page with this prompt and sealed ticket.
    Login { prompt: LoginPrompt, ticket: String },
}

impl SignInTarget {
    pub fn client_id(&self) -> Option<&str> {
        match self {
            SignInTarget::Authorize(req) => Some(req.client.id.as_str()),
            SignInTarget::Return(_) => None,
        }
    }

    pub fn prompt(&self) -> LoginPrompt {
        match self {
            SignInTarget::Authorize(req) => LoginPrompt::for_request(req),
            SignInTarget::Return(url) => LoginPrompt {
                destination: url.clone(),
                ..LoginPrompt::default()
            },
        }
    }

    /// An error on the way: back to the client for an authorization request (its redirect
    /// URI is validated), an error page otherwise.
    pub fn error(&self, p: &Provider, e: OAuthError) -> AuthorizeError {
        match self {
            SignInTarget::Authorize(req) => redirect_err(p, req, e),
            SignInTarget::Return(_) => AuthorizeError::Page(e),
        }
    }
}

impl LoginPrompt {
    pub fn for_request(req: &AuthorizationRequest) -> Self {
        Self {
            client_name: Some(req.client_name().to_owned()),
            ui_locales: req.ui_locales.clone(),
            login_hint: req.login_hint.clone(),
            destination: req.redirect_uri.as_str().to_owned(),
        }
    }
}

impl Provider {
    pub fn seal_login_ticket(&self, ticket: &LoginTicket) -> String {
        match ticket {
            LoginTicket::Authorize(raw) => self.seal(AUTHORIZE_TICKET, raw),
            LoginTicket::Return(url) => self.seal(RETURN_TICKET, url),
        }
    }

    /// The ticket sealed by `seal_login_ticket`, if its MAC holds and it has not expired.
    pub fn open_login_ticket(&self, sealed: &str) -> Option<LoginTicket> {
        if let Some(raw) = self.open_sealed(AUTHORIZE_TICKET, sealed) {
            return Some(LoginTicket::Authorize(raw));
        }
        self.open_sealed(RETURN_TICKET, sealed)
            .map(LoginTicket::Return)
    }

    /// Where a ticket leads, validated again.
    pub async fn sign_in_target(
        &self,
        ticket: &LoginTicket,
    ) -> Result<SignInTarget, AuthorizeError> {
        match ticket {
            LoginTicket::Authorize(raw) => {
                let params = Params::parse(raw.as_bytes())?;
                let req = self.parse_authorization_request(&params).await?;
                Ok(SignInTarget::Authorize(Box::new(req)))
            }
            LoginTicket::Return(url) => Ok(SignInTarget::Return(self.return_destination(url)?)),
        }
    }

    /// A sealed login ticket opened and validated, or the error page of an expired one.
    pub async fn open_sign_in(
        &self,
        sealed: &str,
    ) -> Result<(LoginTicket, SignInTarget), AuthorizeError> {
        let ticket = self.open_login_ticket(sealed).ok_or_else(|| {
            AuthorizeError::Page(OAuthError::invalid_request(
                "this sign-in page has expired or is not valid; go back to the application and try again",
            ))
        })?;
        let target = self.sign_in_target(&ticket).await?;
        Ok((ticket, target))
    }

    /// `GET /signin?return_to=...`: sign in without an authorization request, then go to
    /// `return_to` (the account page when it is absent).
    pub async fn sign_in_page(
        &self,
        return_to: Option<&str>,
        session_cookie: Option<&str>,
    ) -> OAuthResult<SignInPage> {
        let account = self.account_path();
        let destination = self.return_destination(return_to.unwrap_or(&account))?;
        if self.current_session(session_cookie).await?.is_some() {
            return Ok(SignInPage::Return(destination));
        }
        let ticket = self.seal_login_ticket(&LoginTicket::Return(destination.clone()));
        Ok(SignInPage::Login {
            prompt: SignInTarget::Return(destination).prompt(),
            ticket,
        })
    }

    /// The path of the account page on this server's origin.
    pub fn account_path(&self) -> String {
        Url::parse(&self.endpoint("/account"))
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|_| "/account".to_owned())
    }

    /// `return_to` as an absolute URL, if the browser may be sent there: a path on this
    /// server's origin, or an http(s) URL on this origin or on a host that
    /// `forward_auth.allowed_redirect_domains` allows. Anything else is refused (an open
    /// redirector would lend this server's name to phishing, RFC 9700 section 4.11).
    pub fn return_destination(&self, return_to: &str) -> OAuthResult<String> {
        let refused = || {
            OAuthError::invalid_request(
                "return_to must be a path on this server or an address on an allowed domain",
            )
        };
        if return_to.is_empty()
            || return_to.len() > MAX_RETURN_TO
            || return_to
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(refused());
        }
        let issuer = Url::parse(self.issuer()).map_err(|e| OAuthError::Internal(e.into()))?;
        let url = if return_to.starts_with('/') {
            // `//host/...` is a scheme-relative URL to another host, not a path.
            if return_to.starts_with("//") {
                return Err(refused());
            }
            issuer.join(return_to).map_err(|_| refused())?
        } else {
            Url::parse(return_to).map_err(|_| refused())?
        };
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(refused());
        }
        let same_origin = url.origin() == issuer.origin();
        let allowed = same_origin
            || url.host_str().is_some_and(|host| {
                forward_auth::redirect_allowed(
                    &self.settings.forward_auth.allowed_redirect_domains,
                    host,
                )
            });
        if !allowed {
            return Err(refused());
        }
        Ok(url.into())
    }

    /// Every successful primary sign-in ends here, whatever proved it (`methods`): the
    /// two-factor hook decides whether a further factor is needed; if not, the session is
    /// created (`complete_sign_in`). `has_authenticator`: whether the person has a confirmed
    /// authenticator, when the caller already read it (`None`: the hook looks it up).
    pub async fn finish_primary_sign_in(
        &self,
        user: &User,
        has_authenticator: Option<bool>,
        methods: &[AuthMethod],
        ticket: LoginTicket,
        target: SignInTarget,
        ctx: &SignInContext<'_>,
    ) -> Result<SignInStep, AuthorizeError> {
        let auth = Authentication {
            user_id: user.id.clone(),
            methods: methods.to_vec(),
            auth_time: now(),
        };
        if let Some(needed) = self
            .further_factor_required(user, has_authenticator, &auth, &target)
            .await
            .map_err(|e| target.error(self, e))?
        {
            return Ok(SignInStep::FurtherFactor {
                pending: Box::new(PendingSignIn { auth, ticket }),
                needed,
            });
        }
        Ok(SignInStep::Done(
            self.complete_with_target(auth, user.clone(), target, ctx)
                .await?,
        ))
    }

    /// HOOK (two-factor policy): must this person prove a further factor before a session
    /// is created for `auth`, given where they are going (`target`: a client may require
    /// two factors)? `None`: no.
    async fn further_factor_required(
        &self,
        user: &User,
        has_authenticator: Option<bool>,
        auth: &Authentication,
        target: &SignInTarget,
    ) -> OAuthResult<Option<FurtherFactor>> {
        self.second_factor_stage(user, has_authenticator, auth, target)
            .await
    }

    /// Creates the session for a finished sign-in (every factor proved) and says where the
    /// browser goes next. The further-factor step ends here too.
    pub async fn complete_sign_in(
        &self,
        auth: Authentication,
        ticket: &LoginTicket,
        ctx: &SignInContext<'_>,
    ) -> Result<SignedIn, AuthorizeError> {
        let target = self.sign_in_target(ticket).await?;
        let user = self
            .users
            .find_user_by_id(&auth.user_id)
            .await
            .map_err(|e| target.error(self, e.into()))?
            .ok_or_else(|| {
                target.error(
                    self,
                    OAuthError::AccessDenied("the user no longer exists".into()),
                )
            })?;
        self.complete_with_target(auth, user, target, ctx).await
    }

    async fn complete_with_target(
        &self,
        auth: Authentication,
        user: User,
        target: SignInTarget,
        ctx: &SignInContext<'_>,
    ) -> Result<SignedIn, AuthorizeError> {
        let (session_cookie, session) = self
            .new_session(&auth, ctx)
            .await
            .map_err(|e| target.error(self, e))?;
        let next = match target {
            SignInTarget::Authorize(req) => {
                let (redirect_uri, state) = (req.redirect_uri.clone(), req.state.clone());
                let step = match self
                    .decide_next(*req, Some((session.clone(), user)), true, false)
                    .await?
                {
                    // Straight on to a code: the session is stored with the grant and the
                    // code, in one write.
                    Next::Code { req, session, user } => {
                        self.redirect_with_code(&req, &user, &session, true).await?
                    }
                    Next::Step(step) => {
                        self.sessions.create_session(&session).await.map_err(|e| {
                            AuthorizeError::Redirect(self.error_redirect(
                                &redirect_uri,
                                state.as_deref(),
                                &e.into(),
                            ))
                        })?;
                        step
                    }
                };
                AfterSignIn::Authorize(step)
            }
            SignInTarget::Return(url) => {
                self.sessions
                    .create_session(&session)
                    .await
                    .map_err(|e| AuthorizeError::Page(e.into()))?;
                AfterSignIn::Return(url)
            }
        };
        Ok(SignedIn {
            session_cookie,
            next,
        })
    }

    /// A new session (new id at every sign-in) for `auth`, not stored yet; the browser's
    /// old one ends.
    async fn new_session(
        &self,
        auth: &Authentication,
        ctx: &SignInContext<'_>,
    ) -> OAuthResult<(String, Session)> {
        if let Some(old) = ctx
            .old_session_cookie
            .filter(|c| !c.is_empty() && c.len() <= 128)
        {
            self.sessions.delete_session(&self.hasher.hash(old)).await?;
        }
        let cookie = random_token();
        let t = now();
        let session = Session {
            id_hash: self.hasher.hash(&cookie),
            user_id: auth.user_id.clone(),
            auth_time: auth.auth_time,
            expires_at: t + self.settings.tokens.session_ttl as i64,
            amr: auth.amr(),
            created_at: t,
            last_seen_at: t,
            device: ctx.user_agent.map(device::label).filter(|l| !l.is_empty()),
            source_ip: ctx.source_ip.map(|ip| ip.to_string()),
        };
        Ok((cookie, session))
    }
}
