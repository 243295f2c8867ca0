//! Signing in with a passkey from the login page: the assertion check, then the same new
//! session and next step (consent or code) as a password sign-in.
use std::net::IpAddr;

use super::{PasskeyAssertion, PasskeyError};
use crate::audit;
use crate::crypto::random_token;
use crate::metrics::LoginOutcome;
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeStep};
use crate::oauth::model::Session;
use crate::oauth::{Provider, now};

/// The result of a passkey posted from the login page.
#[derive(Debug)]
pub enum PasskeyLogin {
    /// Show the login page again, saying why.
    Refused {
        request: Box<AuthorizationRequest>,
        error: PasskeyError,
    },
    /// Signed in: set this session cookie value, then carry on with `step`.
    SignedIn {
        session_cookie: String,
        step: AuthorizeStep,
    },
}

impl Provider {
    /// POST /login/passkey: `ticket` is the login page's request, `ceremony` the browser's
    /// ceremony cookie, `response` the credential's JSON.
    pub async fn login_with_passkey(
        &self,
        ticket: &str,
        ceremony: Option<&str>,
        response: &str,
        old_session_cookie: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<PasskeyLogin, AuthorizeError> {
        let req = self.request_from_ticket(ticket).await?;
        let client_id = req.client.id.as_str().to_owned();
        let assertion = match self
            .verify_passkey(ceremony, response, None, Some(&client_id), source_ip)
            .await
        {
            Ok(a) => a,
            Err(PasskeyError::Internal(e)) => {
                return Err(self.redirect_error(&req, e.into()));
            }
            Err(error) => {
                self.metrics.login(LoginOutcome::Failed);
                audit::Event::new(audit::Kind::LoginFailed)
                    .client(&client_id)
                    .from(source_ip)
                    .reason("passkey")
                    .emit();
                return Ok(PasskeyLogin::Refused {
                    request: Box::new(req),
                    error,
                });
            }
        };
        let (cookie, session) = self
            .start_passkey_session(&assertion, old_session_cookie)
            .await
            .map_err(|e| self.redirect_error(&req, e))?;
        self.metrics.login(LoginOutcome::Succeeded);
        audit::Event::new(audit::Kind::LoginSucceeded)
            .client(&client_id)
            .user(&assertion.user.id)
            .from(source_ip)
            .reason("passkey")
            .emit();
        let step = self
            .step_after_sign_in(req, session, assertion.user)
            .await?;
        Ok(PasskeyLogin::SignedIn {
            session_cookie: cookie,
            step,
        })
    }

    /// A new session for the passkey's owner (a new id: no session fixation).
    async fn start_passkey_session(
        &self,
        assertion: &PasskeyAssertion,
        old_session_cookie: Option<&str>,
    ) -> crate::oauth::OAuthResult<(String, Session)> {
        if let Some(old) = old_session_cookie {
            self.sessions.delete_session(&self.hasher.hash(old)).await?;
        }
        let t = now();
        let cookie = random_token();
        let session = Session {
            id_hash: self.hasher.hash(&cookie),
            user_id: assertion.user.id.clone(),
            auth_time: t,
            expires_at: t + self.settings.tokens.session_ttl as i64,
        };
        self.sessions.create_session(&session).await?;
        Ok((cookie, session))
    }
}
