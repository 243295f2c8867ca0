//! Signing in with a passkey from the login page (either kind of login ticket): the
//! assertion check, then the one primary sign-in path every sign-in takes
//! (`Provider::finish_primary_sign_in`) with the methods the passkey proved.
use super::{PasskeyAssertion, PasskeyError};
use crate::audit;
use crate::metrics::LoginOutcome;
use crate::oauth::Provider;
use crate::oauth::authn::AuthMethod;
use crate::oauth::authorize::AuthorizeError;
use crate::oauth::signin::{LoginPrompt, SignInContext, SignInStep};

/// The result of a passkey posted from the login page.
#[derive(Debug)]
pub enum PasskeyLogin {
    /// Show the login page again, saying why.
    Refused {
        prompt: Box<LoginPrompt>,
        error: PasskeyError,
    },
    /// Proved: on as after any primary sign-in.
    Proved(SignInStep),
}

impl PasskeyAssertion {
    /// RFC 8176 methods this assertion proved: `hwk` for a device-bound key, `swk` for a
    /// syncable one (the authenticator's backup eligibility flag), and `user` when the
    /// authenticator verified its user; `mfa` is derived from them (`authn::amr`).
    pub fn methods(&self) -> Vec<AuthMethod> {
        let key = if self.device_bound {
            AuthMethod::Hwk
        } else {
            AuthMethod::Swk
        };
        if self.user_verified {
            vec![key, AuthMethod::User]
        } else {
            vec![key]
        }
    }
}

impl Provider {
    /// POST /login/passkey: `sealed_ticket` is the login page's ticket, `ceremony` the
    /// browser's ceremony cookie, `response` the credential's JSON.
    pub async fn login_with_passkey(
        &self,
        sealed_ticket: &str,
        ceremony: Option<&str>,
        response: &str,
        ctx: &SignInContext<'_>,
    ) -> Result<PasskeyLogin, AuthorizeError> {
        let (ticket, target) = self.open_sign_in(sealed_ticket).await?;
        let client_id = target.client_id().map(str::to_owned);
        let assertion = match self
            .verify_passkey(
                ceremony,
                response,
                None,
                client_id.as_deref(),
                ctx.source_ip,
            )
            .await
        {
            Ok(a) => a,
            Err(PasskeyError::Internal(e)) => return Err(target.error(self, e.into())),
            Err(error) => {
                self.metrics.login(LoginOutcome::Failed);
                let mut event = audit::Event::new(audit::Kind::LoginFailed)
                    .from(ctx.source_ip)
                    .reason("passkey");
                if let Some(c) = client_id.as_deref() {
                    event = event.client(c);
                }
                event.emit();
                return Ok(PasskeyLogin::Refused {
                    prompt: Box::new(target.prompt()),
                    error,
                });
            }
        };
        self.metrics.login(LoginOutcome::Succeeded);
        let methods = assertion.methods();
        let amr = methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut event = audit::Event::new(audit::Kind::LoginSucceeded)
            .user(&assertion.user.id)
            .from(ctx.source_ip)
            .amr(&amr);
        if let Some(c) = client_id.as_deref() {
            event = event.client(c);
        }
        event.emit();
        let step = self
            .finish_primary_sign_in(&assertion.user, None, &methods, ticket, target, ctx)
            .await?;
        Ok(PasskeyLogin::Proved(step))
    }
}
