//! The person's side of the authorization endpoint: sessions, the password check of the
//! login form, consent, and issuing the code. The request travels between pages as a ticket
//! (`signin::LoginTicket`): the original parameters with a timestamp and a keyed MAC,
//! re-validated in full at every step.
use std::net::IpAddr;

use super::authn::AuthMethod;
use super::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeStep};
use super::error::{OAuthError, OAuthResult};
use super::model::{AuthorizationCode, Grant, Session, SignInUser, User};
use super::params::Params;
use super::ports::SessionSelection;
use super::signin::{LoginPrompt, LoginTicket, SignInContext, SignInStep, SignInTarget};
use super::throttle::{self, Verdict};
use super::{Provider, now};
use crate::audit;
use crate::crypto::{SecretHasher, b64url, b64url_decode, random_token};
use crate::domain::Scope;
use crate::metrics::LoginOutcome;

/// The `sid` of the session stored under `id_hash` (`Provider::session_sid`). Also computed
/// by the store, which records the clients of an ended session by the `sid` of its grants.
pub fn sid_for(hasher: &SecretHasher, id_hash: &str) -> String {
    hasher.hash(&format!("sid:{id_hash}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRejection {
    /// Wrong username or password: one generic message either way.
    WrongCredentials,
    /// Too many recent failures from this address for this username: the next attempt is
    /// possible in `retry_after` seconds. Refused without checking the password.
    Throttled { retry_after: u64 },
    /// Signing in to this username from this address is locked for `retry_after` seconds.
    /// Refused without checking the password.
    Locked { retry_after: u64 },
}

/// What an authorization request needs next (`Provider::decide_next`).
pub(super) enum Next {
    /// A page to show or an error redirect: nothing to write.
    Step(AuthorizeStep),
    /// A code is to be issued in this session.
    Code {
        req: Box<AuthorizationRequest>,
        session: Session,
        user: User,
    },
}

/// What checking a username and password came to.
pub(super) enum PasswordCheck {
    Rejected(LoginRejection),
    Proved(Box<SignInUser>),
}

/// The result of a submitted login form.
#[derive(Debug)]
pub enum LoginResult {
    /// Show the form again, saying why.
    Rejected {
        prompt: Box<LoginPrompt>,
        reason: LoginRejection,
    },
    /// The password was right: what the sign-in came to.
    Proved(SignInStep),
}

/// How often a session's `last_seen_at` is written, at most.
const LAST_SEEN_RESOLUTION: i64 = 60;

impl Provider {
    /// The live session and its user for a session cookie value.
    pub async fn current_session(
        &self,
        cookie: Option<&str>,
    ) -> OAuthResult<Option<(Session, User)>> {
        let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 128) else {
            return Ok(None);
        };
        let hash = self.hasher.hash(cookie);
        let t = now();
        let Some(mut session) = self.sessions.find_session(&hash, t).await? else {
            return Ok(None);
        };
        if t - session.last_seen_at >= LAST_SEEN_RESOLUTION {
            self.sessions.touch_session(&hash, t).await?;
            session.last_seen_at = t;
        }
        match self.users.find_user_by_id(&session.user_id).await? {
            Some(user) => Ok(Some((session, user))),
            None => Ok(None),
        }
    }

    /// The `sid` of a session (OpenID Connect Front/Back-Channel Logout): a keyed hash of
    /// the stored session key, so it is stable, public and says nothing of the cookie.
    pub fn session_sid(&self, session: &Session) -> String {
        self.sid_of(&session.id_hash)
    }

    pub(super) fn sid_of(&self, id_hash: &str) -> String {
        sid_for(&self.hasher, id_hash)
    }

    /// Ends the session behind a session cookie value, if any, with back-channel logout to
    /// its clients (`end_sessions`).
    pub async fn sign_out(&self, session_cookie: Option<&str>) -> OAuthResult<()> {
        if let Some(cookie) = session_cookie.filter(|c| !c.is_empty() && c.len() <= 128) {
            let hash = self.hasher.hash(cookie);
            if let Some(session) = self.sessions.find_session(&hash, now()).await? {
                self.end_sessions(&session.user_id, SessionSelection::Only(&hash))
                    .await?;
                tracing::info!("signed out");
            }
        }
        Ok(())
    }

    /// GET or POST /authorize. `raw` is the query string or form body as received.
    pub async fn authorize(
        &self,
        raw: &str,
        session_cookie: Option<&str>,
    ) -> Result<(AuthorizeStep, String), AuthorizeError> {
        let params = Params::parse(raw.as_bytes())?;
        let req = self.parse_authorization_request(&params).await?;
        let session = self
            .current_session(session_cookie)
            .await
            .map_err(|e| redirect_err(self, &req, e))?;
        let step = self.next_step(req, session, false, false).await?;
        Ok((
            step,
            self.seal_login_ticket(&LoginTicket::Authorize(raw.to_owned())),
        ))
    }

    /// POST /login: the password form of either kind of ticket.
    pub async fn login(
        &self,
        sealed_ticket: &str,
        username: &str,
        password: &str,
        ctx: &SignInContext<'_>,
    ) -> Result<LoginResult, AuthorizeError> {
        let (ticket, target) = self.open_sign_in(sealed_ticket).await?;
        let attempt = Attempt {
            username,
            password,
            source_ip: ctx.source_ip,
            client_id: target.client_id(),
            reauthentication: false,
        };
        let checked = self
            .check_sign_in(&attempt)
            .await
            .map_err(|e| target.error(self, e))?;
        let found = match checked {
            PasswordCheck::Rejected(reason) => {
                self.metrics.login(match reason {
                    LoginRejection::WrongCredentials => LoginOutcome::Failed,
                    LoginRejection::Throttled { .. } | LoginRejection::Locked { .. } => {
                        LoginOutcome::Locked
                    }
                });
                return Ok(LoginResult::Rejected {
                    prompt: Box::new(target.prompt()),
                    reason,
                });
            }
            PasswordCheck::Proved(found) => found,
        };
        self.metrics.login(LoginOutcome::Succeeded);
        let step = self
            .finish_primary_sign_in(
                &found.user,
                Some(found.has_authenticator),
                &[AuthMethod::Pwd],
                ticket,
                target,
                ctx,
            )
            .await?;
        Ok(LoginResult::Proved(step))
    }

    /// Checks the password, with throttling of failures per (username, address) and per
    /// username (`throttle`).
    pub(super) async fn check_sign_in(&self, attempt: &Attempt<'_>) -> OAuthResult<PasswordCheck> {
        // Keyed by a hash of the normalised username, the same for names that do not exist
        // (so the throttle reveals nothing about which do), and never the name in clear (it
        // is sometimes a password typed in the wrong field).
        let name = attempt.username.trim().to_lowercase();
        let ip = attempt
            .source_ip
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let account = self.hasher.hash(&format!("login\n{name}"));
        let pair = self.hasher.hash(&format!("login-pair\n{name}\n{ip}"));
        let t = now();
        let limits = &self.settings.login;
        let since = t - limits.failure_window as i64;
        let (pair_stats, all_stats) = self
            .login_throttle
            .failure_stats(&pair, &account, since)
            .await?;
        // A refused attempt costs no password check, for known and unknown names alike, and
        // is not recorded (hammering a lock does not extend it).
        match throttle::verdict(limits, pair_stats, all_stats, t) {
            Verdict::Allow => {}
            Verdict::Wait { retry_after } => {
                attempt
                    .audit(audit::Kind::LoginThrottled)
                    .retry_after(retry_after)
                    .emit();
                return Ok(PasswordCheck::Rejected(LoginRejection::Throttled {
                    retry_after,
                }));
            }
            Verdict::Locked { retry_after } => {
                attempt
                    .audit(audit::Kind::LoginLocked)
                    .retry_after(retry_after)
                    .emit();
                return Ok(PasswordCheck::Rejected(LoginRejection::Locked {
                    retry_after,
                }));
            }
        }
        let (found, ok) = self
            .check_password(attempt.username, attempt.password)
            .await?;
        let found = match found {
            Some(found) if ok => found,
            found => {
                self.login_throttle
                    .record_failure(&[&pair, &account], t)
                    .await?;
                let user_id = found.as_ref().map(|f| f.user.id.as_str());
                attempt
                    .audit(audit::Kind::LoginFailed)
                    .user_opt(user_id)
                    .emit();
                let after =
                    throttle::verdict(limits, pair_stats.plus_one(t), all_stats.plus_one(t), t);
                if let Verdict::Locked { retry_after } = after {
                    let scope = if all_stats.count + 1 >= limits.max_failures_all_addresses {
                        "all addresses"
                    } else {
                        "this address"
                    };
                    attempt
                        .audit(audit::Kind::LoginLocked)
                        .user_opt(user_id)
                        .retry_after(retry_after)
                        .reason(scope)
                        .emit();
                    return Ok(PasswordCheck::Rejected(LoginRejection::Locked {
                        retry_after,
                    }));
                }
                return Ok(PasswordCheck::Rejected(LoginRejection::WrongCredentials));
            }
        };
        // The person proved who they are from this address: its count starts again. The
        // username's count across addresses is left alone, so an attack from elsewhere keeps
        // being counted.
        // Nothing to clear when the window held no failure (older ones count for nothing
        // and the cleanup task removes them): no write on an ordinary sign-in.
        if pair_stats.count > 0 {
            self.login_throttle.clear_failures(&pair).await?;
        }
        if !attempt.reauthentication {
            attempt
                .audit(audit::Kind::LoginSucceeded)
                .user(&found.user.id)
                .emit();
        }
        Ok(PasswordCheck::Proved(Box::new(found)))
    }

    /// POST /consent: `allow` is the person's decision.
    pub async fn consent(
        &self,
        ticket: &str,
        session_cookie: Option<&str>,
        allow: bool,
        source_ip: Option<IpAddr>,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let req = self.request_from_ticket(ticket).await?;
        let session = self
            .current_session(session_cookie)
            .await
            .map_err(|e| redirect_err(self, &req, e))?;
        let Some((session, user)) = session else {
            // The session ended while the consent page was open: sign in again.
            return Ok(AuthorizeStep::Login(Box::new(req)));
        };
        if !allow {
            audit::Event::new(audit::Kind::ConsentDenied)
                .client(req.client.id.as_str())
                .user(&user.id)
                .scope(&req.scope.to_string())
                .from(source_ip)
                .emit();
            return Err(redirect_err(
                self,
                &req,
                OAuthError::AccessDenied("the user denied the request".into()),
            ));
        }
        let stored = self
            .consents
            .find_consent(&user.id, req.client.id.as_str())
            .await
            .map_err(|e| redirect_err(self, &req, e.into()))?;
        let previous = stored
            .and_then(|s| Scope::parse(&s).ok())
            .unwrap_or_default();
        let approved = previous.union(&req.scope);
        self.consents
            .save_consent(
                &user.id,
                req.client.id.as_str(),
                &approved.to_string(),
                now(),
            )
            .await
            .map_err(|e| redirect_err(self, &req, e.into()))?;
        audit::Event::new(audit::Kind::ConsentGranted)
            .client(req.client.id.as_str())
            .user(&user.id)
            .scope(&req.scope.to_string())
            .from(source_ip)
            .emit();
        self.next_step(req, Some((session, user)), false, true)
            .await
    }

    pub(super) async fn next_step(
        &self,
        req: AuthorizationRequest,
        session: Option<(Session, User)>,
        just_logged_in: bool,
        just_consented: bool,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        match self
            .decide_next(req, session, just_logged_in, just_consented)
            .await?
        {
            Next::Step(step) => Ok(step),
            Next::Code { req, session, user } => {
                self.redirect_with_code(&req, &user, &session, false).await
            }
        }
    }

    /// What an authorization request needs next (login, step-up, consent, or a code),
    /// decided without writing anything.
    pub(super) async fn decide_next(
        &self,
        req: AuthorizationRequest,
        session: Option<(Session, User)>,
        just_logged_in: bool,
        just_consented: bool,
    ) -> Result<Next, AuthorizeError> {
        let t = now();
        let needs_login = match &session {
            None => true,
            Some((s, _)) => {
                !just_logged_in
                    && (req.prompt.login || req.max_age.is_some_and(|m| t - s.auth_time > m))
            }
        };
        if needs_login {
            if req.prompt.none {
                return Err(redirect_err(
                    self,
                    &req,
                    OAuthError::LoginRequired("the user is not signed in".into()),
                ));
            }
            return Ok(Next::Step(AuthorizeStep::Login(Box::new(req))));
        }
        let (session, user) = session.expect("checked above");
        // A one-factor session meeting a request that needs two: the second factor only
        // (OpenID Connect Core section 3.1.2.1 acr_values; client and global policy).
        if !session.amr.contains(&AuthMethod::Mfa) && self.two_factors_required(Some(&req)) {
            if req.prompt.none {
                return Err(redirect_err(
                    self,
                    &req,
                    OAuthError::InteractionRequired(
                        "a second factor is required for this request".into(),
                    ),
                ));
            }
            return Ok(Next::Step(AuthorizeStep::StepUp {
                request: Box::new(req),
                session: Box::new(session),
            }));
        }

        if !req.client.first_party && !just_consented {
            let stored = self
                .consents
                .find_consent(&user.id, req.client.id.as_str())
                .await
                .map_err(|e| redirect_err(self, &req, e.into()))?;
            let approved = stored.as_deref().and_then(|s| Scope::parse(s).ok());
            let (to_approve, previously) = match (&approved, req.prompt.consent) {
                (Some(a), false) => (req.scope.difference(a), true),
                (Some(_), true) => (req.scope.clone(), true),
                (None, _) => (req.scope.clone(), false),
            };
            let needed = approved.is_none() || req.prompt.consent || !to_approve.is_empty();
            if needed {
                if req.prompt.none {
                    return Err(redirect_err(
                        self,
                        &req,
                        OAuthError::ConsentRequired(
                            "the user has not approved this request".into(),
                        ),
                    ));
                }
                let previously_approved = previously && !req.prompt.consent;
                return Ok(Next::Step(AuthorizeStep::Consent {
                    request: Box::new(req),
                    user,
                    to_approve,
                    previously_approved,
                }));
            }
        }
        Ok(Next::Code {
            req: Box::new(req),
            session,
            user,
        })
    }

    /// Issues the code (`issue_code`) and sends the browser back with it; an error goes to
    /// the client.
    pub(super) async fn redirect_with_code(
        &self,
        req: &AuthorizationRequest,
        user: &User,
        session: &Session,
        new_session: bool,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let url = self
            .issue_code(req, user, session, new_session)
            .await
            .map_err(|e| redirect_err(self, req, e))?;
        Ok(AuthorizeStep::Redirect(url))
    }

    /// Creates the grant and the code, and returns the success redirect (RFC 6749 section
    /// 4.1.2, RFC 9207 `iss`). `new_session`: the session was just made by a sign-in and is
    /// not stored yet; it is stored with the grant and the code, in one write.
    async fn issue_code(
        &self,
        req: &AuthorizationRequest,
        user: &User,
        session: &Session,
        new_session: bool,
    ) -> OAuthResult<String> {
        let auth_time = session.auth_time;
        let t = now();
        let grant = Grant {
            id: random_token(),
            client_id: req.client.id.as_str().to_owned(),
            user_id: user.id.clone(),
            scope: req.scope.to_string(),
            auth_time,
            created_at: t,
            revoked_at: None,
            sid: Some(self.session_sid(session)),
            amr: session.amr.clone(),
        };
        let code = random_token();
        let record = AuthorizationCode {
            code_hash: self.hasher.hash(&code),
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            user_id: user.id.clone(),
            redirect_uri: if req.redirect_uri_given {
                req.redirect_uri.as_str().to_owned()
            } else {
                String::new()
            },
            scope: grant.scope.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
            code_challenge_method: req.code_challenge.as_ref().map(|_| "S256".to_owned()),
            auth_time,
            created_at: t,
            expires_at: t + self.settings.tokens.authorization_code_ttl as i64,
            consumed_at: None,
            sid: grant.sid.clone(),
            amr: grant.amr.clone(),
        };
        self.grants
            .create_grant_with_code(&grant, &record, new_session.then_some(session))
            .await?;
        // Resource indicators of the authorization request are kept with the code by
        // repeating them at the token endpoint (RFC 8707 section 2.2).
        tracing::info!(client_id = %req.client.id, user_id = %user.id, "issued authorization code");
        Ok(self.redirect_with(
            &req.redirect_uri,
            req.state.as_deref(),
            vec![("code", code)],
        ))
    }

    /// The user of that name if there is one, and whether the password is theirs.
    async fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> OAuthResult<(Option<SignInUser>, bool)> {
        let user = if username.is_empty() || username.len() > 64 {
            None
        } else {
            self.users.find_user_for_sign_in(username).await?
        };
        let stored = user.as_ref().map(|u| u.user.password_hash.clone());
        // argon2 takes tens of milliseconds: off the async workers, one per core at a time.
        // Unknown users are checked against a dummy hash so both cases cost the same.
        let ok = self
            .passwords
            .verify_bounded(password.to_owned(), stored)
            .await?;
        Ok((user, ok))
    }

    /// `raw` with a timestamp and a keyed MAC under `label`, to carry a request through a
    /// page and back.
    pub(super) fn seal(&self, label: &str, raw: &str) -> String {
        let iat = now();
        let mac = self.hasher.hash(&format!("{label}\n{iat}\n{raw}"));
        format!("{}.{iat}.{mac}", b64url(raw.as_bytes()))
    }

    /// The request sealed by `seal` under `label`, if the MAC holds and it is younger than
    /// the interaction lifetime.
    pub(super) fn open_sealed(&self, label: &str, ticket: &str) -> Option<String> {
        let mut parts = ticket.splitn(3, '.');
        let (Some(raw), Some(iat), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let raw = b64url_decode(raw).and_then(|b| String::from_utf8(b).ok())?;
        let iat: i64 = iat.parse().ok()?;
        if !self.hasher.verify(&format!("{label}\n{iat}\n{raw}"), mac) {
            return None;
        }
        if now() - iat > self.settings.tokens.interaction_ttl as i64 {
            return None;
        }
        Some(raw)
    }

    /// The authorization request of a consent form's ticket.
    async fn request_from_ticket(
        &self,
        ticket: &str,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        match self.open_sign_in(ticket).await? {
            (_, SignInTarget::Authorize(req)) => Ok(*req),
            (_, SignInTarget::Return(_)) => Err(AuthorizeError::Page(OAuthError::invalid_request(
                "this form does not belong to an authorization request",
            ))),
        }
    }
}

/// One submitted password, with where it came from.
pub(super) struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub source_ip: Option<IpAddr>,
    /// The client of the authorization request; none for `/signin` and the account page.
    pub client_id: Option<&'a str>,
    /// A signed-in person confirming their password (the account page): a success is not
    /// a sign-in and is not recorded as one.
    pub reauthentication: bool,
}

impl Attempt<'_> {
    /// The audit record of this attempt: client, username (cut short) and address. A
    /// refused attempt gets no user id (no lookup: the refusal must cost the same for names
    /// that exist and names that do not).
    fn audit(&self, kind: audit::Kind) -> audit::Event<'_> {
        audit::Event::new(kind)
            .client_opt(self.client_id)
            .username(self.username)
            .from(self.source_ip)
    }
}

pub(super) fn redirect_err(
    p: &Provider,
    req: &AuthorizationRequest,
    e: OAuthError,
) -> AuthorizeError {
    AuthorizeError::Redirect(p.error_redirect(&req.redirect_uri, req.state.as_deref(), &e))
}
