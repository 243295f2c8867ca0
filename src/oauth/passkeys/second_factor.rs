//! A passkey as the second step of a sign-in: on the second-step page after a password,
//! the person confirms with one of their own passkeys instead of typing a code. The pending
//! sign-in (sealed, bound to the browser, `two_factor::sign_in`) names the person; the
//! options list only their credentials, and the assertion must be by one of them. A proof
//! ends exactly as a right code does (`Provider::second_factor_proved`).
//!
//! Failures do not feed the password throttle (every answer needs a signature over a fresh,
//! single-use challenge, so there is nothing to guess) and complete nothing.
use super::{Begun, PasskeyError};
use crate::audit;
use crate::oauth::Provider;
use crate::oauth::authorize::AuthorizeError;
use crate::oauth::model::User;
use crate::oauth::signin::SignInContext;
use crate::oauth::two_factor::sign_in::{SecondFactorResult, Stage};

impl Provider {
    /// Options for the second-step page's passkey button: `sealed` is the page's pending
    /// sign-in and `browser_cookie` its binding cookie. `SignInExpired` when the pending
    /// sign-in does not open here; `NotFound` when the person has no passkey.
    pub async fn begin_second_factor_passkey(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
    ) -> Result<Begun, PasskeyError> {
        self.relying_party()?;
        let user = self.second_step_user(sealed, browser_cookie).await?;
        self.begin_passkey_confirmation(&user).await
    }

    async fn second_step_user(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
    ) -> Result<User, PasskeyError> {
        let pending = self
            .open_pending(sealed, browser_cookie, Stage::Code)
            .map_err(|_| PasskeyError::SignInExpired)?;
        self.users
            .find_user_by_id(&pending.auth.user_id)
            .await?
            .ok_or(PasskeyError::SignInExpired)
    }

    /// POST of the second-step page's passkey form: `ceremony` is the browser's ceremony
    /// cookie, `response` the credential's JSON. The assertion must be by one of the pending
    /// person's passkeys (`verify_passkey` with that user); then the sign-in completes with
    /// the methods of both steps (`pwd` + `hwk`/`swk` + `user`, so `mfa`).
    pub async fn submit_second_factor_passkey(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
        ceremony: Option<&str>,
        response: &str,
        ctx: &SignInContext<'_>,
    ) -> Result<SecondFactorResult, AuthorizeError> {
        let (pending, target, user) = self
            .open_second_step(sealed, browser_cookie, Stage::Code)
            .await?;
        let client_id = target.client_id();
        let result = match self
            .verify_passkey(ceremony, response, Some(&user), client_id, ctx.source_ip)
            .await
        {
            Err(PasskeyError::Internal(e)) => return Err(target.error(self, e.into())),
            other => other,
        };
        let kind = if result.is_ok() {
            audit::Kind::SecondFactorSucceeded
        } else {
            audit::Kind::SecondFactorFailed
        };
        audit::Event::new(kind)
            .user(&user.id)
            .from(ctx.source_ip)
            .client_opt(client_id)
            .reason("passkey")
            .emit();
        match result {
            Ok(assertion) => {
                self.second_factor_proved(&pending, &assertion.methods(), ctx)
                    .await
            }
            Err(error) => Ok(SecondFactorResult::PasskeyRefused {
                prompt: self
                    .second_step_again(&user.id, sealed, browser_cookie, &target)
                    .await?,
                error,
            }),
        }
    }
}
