//! The person's side of the authorization endpoint: sessions, login, consent, and issuing
//! the code. The request travels between pages as a ticket: the original parameters with a
//! timestamp and a keyed MAC, re-validated in full at every step.
use std::net::IpAddr;

use super::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeStep};
use super::error::{OAuthError, OAuthResult};
use super::model::{AuthorizationCode, Grant, Session, User};
use super::params::Params;
use super::throttle::{self, Verdict};
use super::{Provider, now};
use crate::audit;
use crate::crypto::{b64url, b64url_decode, random_token};
use crate::domain::Scope;
use crate::metrics::LoginOutcome;

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

/// What checking a username and password came to.
enum SignIn {
    Rejected(LoginRejection),
    Done(Box<NewSession>),
}

struct NewSession {
    cookie: String,
    session: Session,
    user: User,
}

/// The result of a submitted login form.
#[derive(Debug)]
pub enum LoginResult {
    /// Show the form again, saying why.
    Rejected {
        request: Box<AuthorizationRequest>,
        reason: LoginRejection,
    },
    /// Signed in: set this session cookie value, then carry on with `step`.
    SignedIn {
        session_cookie: String,
        step: AuthorizeStep,
    },
}

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
        let Some(session) = self.sessions.find_session(&hash, now()).await? else {
            return Ok(None);
        };
        match self.users.find_user_by_id(&session.user_id).await? {
            Some(user) => Ok(Some((session, user))),
            None => Ok(None),
        }
    }

    /// The `sid` of a session (OpenID Connect Front/Back-Channel Logout): a keyed hash of
    /// the stored session key, so it is stable, public and says nothing of the cookie.
    pub fn session_sid(&self, session: &Session) -> String {
        self.hasher.hash(&format!("sid:{}", session.id_hash))
    }

    /// Ends the session behind a session cookie value, if any.
    pub async fn sign_out(&self, session_cookie: Option<&str>) -> OAuthResult<()> {
        if let Some(cookie) = session_cookie.filter(|c| !c.is_empty() && c.len() <= 128) {
            let hash = self.hasher.hash(cookie);
            let session = self.sessions.find_session(&hash, now()).await?;
            self.sessions.delete_session(&hash).await?;
            tracing::info!("signed out");
            if let Some(session) = session {
                self.notify_session_ended(&session).await;
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
        Ok((step, self.seal_ticket(raw)))
    }

    /// POST /login.
    pub async fn login(
        &self,
        ticket: &str,
        username: &str,
        password: &str,
        old_session_cookie: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<LoginResult, AuthorizeError> {
        let req = self.request_from_ticket(ticket).await?;
        let attempt = Attempt {
            username,
            password,
            source_ip,
            client_id: req.client.id.as_str(),
        };
        let outcome = self
            .sign_in(&attempt, old_session_cookie)
            .await
            .map_err(|e| redirect_err(self, &req, e))?;
        let (cookie, session, user) = match outcome {
            SignIn::Rejected(reason) => {
                self.metrics.login(match reason {
                    LoginRejection::WrongCredentials => LoginOutcome::Failed,
                    LoginRejection::Throttled { .. } | LoginRejection::Locked { .. } => {
                        LoginOutcome::Locked
                    }
                });
                return Ok(LoginResult::Rejected {
                    request: Box::new(req),
                    reason,
                });
            }
            SignIn::Done(new) => {
                let NewSession {
                    cookie,
                    session,
                    user,
                } = *new;
                (cookie, session, user)
            }
        };
        self.metrics.login(LoginOutcome::Succeeded);
        let step = self
            .next_step(req, Some((session, user)), true, false)
            .await?;
        Ok(LoginResult::SignedIn {
            session_cookie: cookie,
            step,
        })
    }

    /// Checks the password, with throttling of failures per (username, address) and per
    /// username (`throttle`), and on success starts a new session (a new id at every login:
    /// no session fixation).
    async fn sign_in(
        &self,
        attempt: &Attempt<'_>,
        old_session_cookie: Option<&str>,
    ) -> OAuthResult<SignIn> {
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
        let pair_stats = self.login_throttle.failure_stats(&pair, since).await?;
        let all_stats = self.login_throttle.failure_stats(&account, since).await?;
        // A refused attempt costs no password check, for known and unknown names alike, and
        // is not recorded (hammering a lock does not extend it).
        match throttle::verdict(limits, pair_stats, all_stats, t) {
            Verdict::Allow => {}
            Verdict::Wait { retry_after } => {
                attempt
                    .audit(audit::Kind::LoginThrottled)
                    .retry_after(retry_after)
                    .emit();
                return Ok(SignIn::Rejected(LoginRejection::Throttled { retry_after }));
            }
            Verdict::Locked { retry_after } => {
                attempt
                    .audit(audit::Kind::LoginLocked)
                    .retry_after(retry_after)
                    .emit();
                return Ok(SignIn::Rejected(LoginRejection::Locked { retry_after }));
            }
        }
        let (found, ok) = self
            .check_password(attempt.username, attempt.password)
            .await?;
        let user = match found {
            Some(user) if ok => user,
            found => {
                self.login_throttle
                    .record_failure(&[&pair, &account], t)
                    .await?;
                let user_id = found.as_ref().map(|u| u.id.as_str());
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
                    return Ok(SignIn::Rejected(LoginRejection::Locked { retry_after }));
                }
                return Ok(SignIn::Rejected(LoginRejection::WrongCredentials));
            }
        };
        // The person proved who they are from this address: its count starts again. The
        // username's count across addresses is left alone, so an attack from elsewhere keeps
        // being counted.
        self.login_throttle.clear_failures(&pair).await?;
        if let Some(old) = old_session_cookie {
            self.sessions.delete_session(&self.hasher.hash(old)).await?;
        }
        let cookie = random_token();
        let session = Session {
            id_hash: self.hasher.hash(&cookie),
            user_id: user.id.clone(),
            auth_time: t,
            expires_at: t + self.settings.tokens.session_ttl as i64,
        };
        self.sessions.create_session(&session).await?;
        attempt
            .audit(audit::Kind::LoginSucceeded)
            .user(&user.id)
            .emit();
        Ok(SignIn::Done(Box::new(NewSession {
            cookie,
            session,
            user,
        })))
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

    /// The step after someone signed in some other way than the password form (a
    /// passkey): consent or the code.
    pub(crate) async fn step_after_sign_in(
        &self,
        req: AuthorizationRequest,
        session: Session,
        user: User,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        self.next_step(req, Some((session, user)), true, false).await
    }

    /// The error redirect to the client of `req`.
    pub(crate) fn redirect_error(&self, req: &AuthorizationRequest, e: OAuthError) -> AuthorizeError {
        redirect_err(self, req, e)
    }

    async fn next_step(
        &self,
        req: AuthorizationRequest,
        session: Option<(Session, User)>,
        just_logged_in: bool,
        just_consented: bool,
    ) -> Result<AuthorizeStep, AuthorizeError> {
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
            return Ok(AuthorizeStep::Login(Box::new(req)));
        }
        let (session, user) = session.expect("checked above");

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
                return Ok(AuthorizeStep::Consent {
                    request: Box::new(req),
                    user,
                    to_approve,
                    previously_approved,
                });
            }
        }
        let url = self
            .issue_code(&req, &user, &session)
            .await
            .map_err(|e| redirect_err(self, &req, e))?;
        Ok(AuthorizeStep::Redirect(url))
    }

    /// Creates the grant and the code, and returns the success redirect (RFC 6749 section
    /// 4.1.2, RFC 9207 `iss`).
    async fn issue_code(
        &self,
        req: &AuthorizationRequest,
        user: &User,
        session: &Session,
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
        };
        self.grants.create_grant(&grant).await?;
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
        };
        self.grants.create_authorization_code(&record).await?;
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
    ) -> OAuthResult<(Option<User>, bool)> {
        let user = if username.is_empty() || username.len() > 64 {
            None
        } else {
            self.users.find_user_by_username(username).await?
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        // argon2 takes tens of milliseconds: off the async workers, one per core at a time.
        // Unknown users are checked against a dummy hash so both cases cost the same.
        let ok = self
            .passwords
            .verify_bounded(password.to_owned(), stored)
            .await?;
        Ok((user, ok))
    }

    fn seal_ticket(&self, raw: &str) -> String {
        self.seal("authorize-ticket", raw)
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

    /// The authorization request a login or consent page carried.
    pub(crate) async fn request_from_ticket(
        &self,
        ticket: &str,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let expired = || {
            AuthorizeError::Page(OAuthError::invalid_request(
                "this sign-in page has expired or is not valid; go back to the application and try again",
            ))
        };
        let raw = self
            .open_sealed("authorize-ticket", ticket)
            .ok_or_else(expired)?;
        let params = Params::parse(raw.as_bytes())?;
        self.parse_authorization_request(&params).await
    }
}

/// One submitted login form, with where it came from.
struct Attempt<'a> {
    username: &'a str,
    password: &'a str,
    source_ip: Option<IpAddr>,
    client_id: &'a str,
}

impl Attempt<'_> {
    /// The audit record of this attempt: client, username (cut short) and address. A
    /// refused attempt gets no user id (no lookup: the refusal must cost the same for names
    /// that exist and names that do not).
    fn audit(&self, kind: audit::Kind) -> audit::Event<'_> {
        audit::Event::new(kind)
            .client(self.client_id)
            .username(self.username)
            .from(self.source_ip)
    }
}

fn redirect_err(p: &Provider, req: &AuthorizationRequest, e: OAuthError) -> AuthorizeError {
    AuthorizeError::Redirect(p.error_redirect(&req.redirect_uri, req.state.as_deref(), &e))
}
