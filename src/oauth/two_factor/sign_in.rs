//! The second step of a sign-in: the two-factor policy (its `acr` values in `acr.rs`, used
//! from here), and the pending sign-in carried between the password and the second-step
//! (or the enrolment) pages. The second-step page takes a code here; a passkey there is
//! checked by `passkeys::second_factor`, and both end in `second_factor_proved`.
//!
//! The pending state is encrypted and authenticated with the master key's sealing subkey
//! (AES-256-GCM: the page learns nothing from it and cannot change it), expires after
//! `PENDING_TTL`, and is bound to the browser: it names the keyed hash of a random value
//! that only this browser holds, in a cookie set with the page. A state copied to another
//! browser, or replayed after its time, is refused.
use serde::{Deserialize, Serialize};

use super::super::authn::{AuthMethod, Authentication, amr};
use super::super::authorize::{AuthorizationRequest, AuthorizeError};
use super::super::error::{OAuthError, OAuthResult};
use super::super::model::{Session, User};
use super::super::signin::{
    FurtherFactor, LoginPrompt, LoginTicket, PendingSignIn, SignInContext, SignInTarget, SignedIn,
};
use super::super::{Provider, now};
pub use super::acr::{
    ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR, ACR_VALUES, acr_for, acr_values_demand_mfa,
};
use super::{Enrolment, TwoFactorError};
use crate::crypto::random_token;
use crate::oauth::passkeys::PasskeyError;

/// How long a pending sign-in waits for its second factor (enrolment included: scanning a
/// QR code takes a while).
pub const PENDING_TTL: i64 = 10 * 60;

impl From<FurtherFactor> for Stage {
    fn from(f: FurtherFactor) -> Self {
        match f {
            FurtherFactor::Code => Stage::Code,
            FurtherFactor::Enrol => Stage::Enrol,
        }
    }
}

/// Which second-factor page a pending sign-in is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// The second-step page: a code (authenticator or recovery code) or one of the person's
    /// passkeys, whichever they have (`Offer`).
    Code,
    /// Two factors are required and the person has none: set up an authenticator first.
    Enrol,
    /// The second factor is proven (a new authenticator, whose recovery codes are on
    /// screen): only "continue" is left.
    Proven,
}

/// The sealed form of a pending sign-in.
#[derive(Serialize, Deserialize)]
struct State {
    user_id: String,
    methods: Vec<String>,
    auth_time: i64,
    ticket: Ticket,
    stage: Stage,
    /// Keyed hash of the browser's binding cookie.
    browser: String,
    exp: i64,
}

#[derive(Serialize, Deserialize)]
enum Ticket {
    Authorize(String),
    Return(String),
}

const SEAL_CONTEXT: &str = "latchkey/pending-sign-in/v1";

/// A pending sign-in as handed to a page: the sealed state for a hidden field and the
/// value of the cookie that binds it to the browser.
#[derive(Debug, Clone)]
pub struct SealedPending {
    pub sealed: String,
    pub browser_cookie: String,
}

impl SealedPending {
    /// The state a page posted back, kept for showing that page again.
    fn kept(sealed: &str, browser_cookie: Option<&str>) -> Self {
        Self {
            sealed: sealed.to_owned(),
            browser_cookie: browser_cookie.unwrap_or_default().to_owned(),
        }
    }
}

impl Provider {
    /// Whether a sign-in (or a session) with these `amr` values is enough for `target`:
    /// two factors are needed when `login.require_two_factor` is set, when the client
    /// requires them, or when the request's `acr_values` ask for them.
    pub fn two_factors_required(&self, req: Option<&AuthorizationRequest>) -> bool {
        self.settings.login.require_two_factor
            || req.is_some_and(|r| {
                r.client.require_two_factor || acr_values_demand_mfa(r.acr_values.as_deref())
            })
    }

    /// The two-factor hook of every primary sign-in: `None` when `auth` is enough;
    /// otherwise the page to show next. A person with an authenticator is always asked for
    /// a second factor; a person without one only when two factors are required, and then
    /// confirms with a passkey if they have one, or else enrols an authenticator.
    /// `has_authenticator`: whether they have one, when the caller already read it.
    pub(in crate::oauth) async fn second_factor_stage(
        &self,
        user: &User,
        has_authenticator: Option<bool>,
        auth: &Authentication,
        target: &SignInTarget,
    ) -> OAuthResult<Option<FurtherFactor>> {
        if auth.amr().contains(&AuthMethod::Mfa) {
            return Ok(None);
        }
        let has_authenticator = match has_authenticator {
            Some(known) => known,
            None => self
                .two_factor
                .find_authenticator(&user.id)
                .await?
                .is_some_and(|a| a.confirmed_at.is_some()),
        };
        if has_authenticator {
            return Ok(Some(FurtherFactor::Code));
        }
        let req = match target {
            SignInTarget::Authorize(req) => Some(&**req),
            SignInTarget::Return(_) => None,
        };
        if !self.two_factors_required(req) {
            return Ok(None);
        }
        Ok(Some(if self.has_passkeys(&user.id).await? {
            FurtherFactor::Code
        } else {
            FurtherFactor::Enrol
        }))
    }

    /// Which second factors the second-step page offers `user_id`: their own.
    pub async fn second_step_offer(&self, user_id: &str) -> OAuthResult<Offer> {
        Ok(Offer {
            code: self.two_factor_status(user_id).await?.has_authenticator(),
            passkey: self.has_passkeys(user_id).await?,
        })
    }

    /// Seals a pending sign-in at `stage` for this browser (a new binding value each time).
    pub fn seal_pending(&self, pending: &PendingSignIn, stage: Stage) -> SealedPending {
        let browser_cookie = random_token();
        let state = State {
            user_id: pending.auth.user_id.clone(),
            methods: pending
                .auth
                .methods
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            auth_time: pending.auth.auth_time,
            ticket: match &pending.ticket {
                LoginTicket::Authorize(raw) => Ticket::Authorize(raw.clone()),
                LoginTicket::Return(url) => Ticket::Return(url.clone()),
            },
            stage,
            browser: self.browser_binding(&browser_cookie),
            exp: now() + PENDING_TTL,
        };
        let json = serde_json::to_vec(&state).expect("a pending sign-in serialises");
        SealedPending {
            sealed: self.sealer.seal(&json, SEAL_CONTEXT),
            browser_cookie,
        }
    }

    /// The pending sign-in in `sealed`, if it opens, has not expired, is at `stage`, and
    /// belongs to the browser holding `browser_cookie`.
    pub fn open_pending(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
        stage: Stage,
    ) -> OAuthResult<PendingSignIn> {
        let expired = || {
            OAuthError::invalid_request(
                "this sign-in has expired or was started in another browser; start again",
            )
        };
        if sealed.len() > 16 * 1024 {
            return Err(expired());
        }
        let json = self
            .sealer
            .open(sealed, SEAL_CONTEXT)
            .map_err(|_| expired())?;
        let state: State = serde_json::from_slice(&json).map_err(|_| expired())?;
        let bound = browser_cookie.is_some_and(|c| {
            crate::crypto::ct_eq(self.browser_binding(c).as_bytes(), state.browser.as_bytes())
        });
        if !bound || state.exp < now() || state.stage != stage {
            return Err(expired());
        }
        Ok(PendingSignIn {
            auth: Authentication {
                user_id: state.user_id,
                methods: state
                    .methods
                    .iter()
                    .filter_map(|m| AuthMethod::parse(m))
                    .collect(),
                auth_time: state.auth_time,
            },
            ticket: match state.ticket {
                Ticket::Authorize(raw) => LoginTicket::Authorize(raw),
                Ticket::Return(url) => LoginTicket::Return(url),
            },
        })
    }

    fn browser_binding(&self, cookie: &str) -> String {
        self.hasher
            .hash(&format!("pending-sign-in-browser\n{cookie}"))
    }
}

/// What the second-factor page of a pending sign-in shows.
#[derive(Debug)]
pub struct SecondFactorPrompt {
    pub stage: Stage,
    pub sealed: SealedPending,
    pub prompt: LoginPrompt,
    /// For `Stage::Enrol`: the authenticator to set up.
    pub enrolment: Option<Enrolment>,
    /// For `Stage::Code`: the second factors the person can prove.
    pub offer: Offer,
}

/// The second factors a person has, as the second-step page offers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offer {
    /// A code from their authenticator (or a recovery code).
    pub code: bool,
    /// One of their passkeys (passkeys are on and they have one).
    pub passkey: bool,
}

/// What a submitted code (or enrolment) came to.
#[derive(Debug)]
pub enum SecondFactorResult {
    /// Show the page again with this error; the sealed state stays valid.
    Retry {
        prompt: Box<SecondFactorPrompt>,
        error: TwoFactorError,
    },
    /// A passkey was refused: the second-step page again with this error; the sealed
    /// state stays valid (a new ceremony is needed).
    PasskeyRefused {
        prompt: Box<SecondFactorPrompt>,
        error: PasskeyError,
    },
    /// A new authenticator is confirmed: show its recovery codes, then continue with
    /// `proven` (`Stage::Proven`).
    Enrolled {
        codes: Vec<String>,
        proven: SealedPending,
        prompt: Box<LoginPrompt>,
    },
    /// Signed in with two factors; the sealed login ticket is for the pages that follow
    /// (consent).
    Done(Box<SignedIn>, String),
}

impl Provider {
    /// The page for a sign-in that needs a second factor at `stage`, with a new sealed
    /// state and browser binding.
    pub async fn second_factor_prompt(
        &self,
        pending: &PendingSignIn,
        stage: Stage,
    ) -> Result<SecondFactorPrompt, AuthorizeError> {
        let target = self.sign_in_target(&pending.ticket).await?;
        let sealed = self.seal_pending(pending, stage);
        match stage {
            Stage::Enrol => {
                let user = self.pending_user(pending, &target).await?;
                Ok(SecondFactorPrompt {
                    stage,
                    sealed,
                    prompt: target.prompt(),
                    enrolment: Some(
                        self.begin_authenticator_enrolment(&user)
                            .await
                            .map_err(|e| target.error(self, e.into()))?,
                    ),
                    offer: Offer::default(),
                })
            }
            _ => {
                self.second_step_page(&pending.auth.user_id, sealed, &target)
                    .await
            }
        }
    }

    /// The second-step page (`Stage::Code`) for `user_id` with this sealed state: first
    /// shown, or again after a refusal.
    async fn second_step_page(
        &self,
        user_id: &str,
        sealed: SealedPending,
        target: &SignInTarget,
    ) -> Result<SecondFactorPrompt, AuthorizeError> {
        let offer = self
            .second_step_offer(user_id)
            .await
            .map_err(|e| target.error(self, e))?;
        Ok(SecondFactorPrompt {
            stage: Stage::Code,
            sealed,
            prompt: target.prompt(),
            enrolment: None,
            offer,
        })
    }

    /// The second-step page shown again after a refusal, with the state the page posted.
    pub(in crate::oauth) async fn second_step_again(
        &self,
        user_id: &str,
        sealed: &str,
        browser_cookie: Option<&str>,
        target: &SignInTarget,
    ) -> Result<Box<SecondFactorPrompt>, AuthorizeError> {
        let kept = SealedPending::kept(sealed, browser_cookie);
        Ok(Box::new(
            self.second_step_page(user_id, kept, target).await?,
        ))
    }

    /// Step-up: the second-factor page for a one-factor `session` meeting a request that
    /// needs two (`sealed_ticket`: the request's login ticket).
    pub async fn step_up_prompt(
        &self,
        session: &Session,
        sealed_ticket: &str,
    ) -> Result<SecondFactorPrompt, AuthorizeError> {
        let ticket = self.open_login_ticket(sealed_ticket).ok_or_else(|| {
            AuthorizeError::Page(OAuthError::invalid_request(
                "this sign-in page has expired; go back to the application and try again",
            ))
        })?;
        let target = self.sign_in_target(&ticket).await?;
        let offer = self
            .second_step_offer(&session.user_id)
            .await
            .map_err(|e| target.error(self, e))?;
        let pending = PendingSignIn {
            auth: Authentication {
                user_id: session.user_id.clone(),
                methods: session
                    .amr
                    .iter()
                    .copied()
                    .filter(|m| *m != AuthMethod::Mfa)
                    .collect(),
                auth_time: session.auth_time,
            },
            ticket,
        };
        // Someone with neither an authenticator nor a passkey sets up an authenticator.
        let stage = if offer.code || offer.passkey {
            Stage::Code
        } else {
            Stage::Enrol
        };
        self.second_factor_prompt(&pending, stage).await
    }

    /// POST of the code page: a code or a recovery code completes the sign-in.
    pub async fn submit_second_factor(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
        code: &str,
        ctx: &SignInContext<'_>,
    ) -> Result<SecondFactorResult, AuthorizeError> {
        let (pending, target, user) = self
            .open_second_step(sealed, browser_cookie, Stage::Code)
            .await?;
        match self
            .check_second_factor(&user, code, target.client_id(), ctx.source_ip)
            .await
        {
            Ok(_) => {
                self.second_factor_proved(&pending, &[AuthMethod::Otp], ctx)
                    .await
            }
            Err(TwoFactorError::Internal(e)) => Err(target.error(self, e)),
            Err(error) => Ok(SecondFactorResult::Retry {
                prompt: self
                    .second_step_again(&user.id, sealed, browser_cookie, &target)
                    .await?,
                error,
            }),
        }
    }

    /// A second factor (`added`: the methods it proved) completed the pending sign-in: the
    /// session, as for any sign-in (`complete_sign_in`), with the methods of both steps.
    pub(in crate::oauth) async fn second_factor_proved(
        &self,
        pending: &PendingSignIn,
        added: &[AuthMethod],
        ctx: &SignInContext<'_>,
    ) -> Result<SecondFactorResult, AuthorizeError> {
        let auth = Authentication {
            user_id: pending.auth.user_id.clone(),
            methods: with_methods(&pending.auth.methods, added),
            auth_time: now(),
        };
        let done = self.complete_sign_in(auth, &pending.ticket, ctx).await?;
        Ok(SecondFactorResult::Done(
            Box::new(done),
            self.seal_login_ticket(&pending.ticket),
        ))
    }

    /// POST of the enrolment page during a sign-in: the first code confirms the new
    /// authenticator, which proves the second factor.
    pub async fn submit_sign_in_enrolment(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
        code: &str,
        ctx: &SignInContext<'_>,
    ) -> Result<SecondFactorResult, AuthorizeError> {
        let (pending, target, user) = self
            .open_second_step(sealed, browser_cookie, Stage::Enrol)
            .await?;
        match self
            .confirm_authenticator_enrolment(&user, code, ctx.source_ip)
            .await
        {
            Ok(codes) => {
                let proven = PendingSignIn {
                    auth: Authentication {
                        user_id: user.id,
                        methods: with_methods(&pending.auth.methods, &[AuthMethod::Otp]),
                        auth_time: now(),
                    },
                    ticket: pending.ticket,
                };
                Ok(SecondFactorResult::Enrolled {
                    codes,
                    proven: self.seal_pending(&proven, Stage::Proven),
                    prompt: Box::new(target.prompt()),
                })
            }
            Err(TwoFactorError::Internal(e)) => Err(target.error(self, e)),
            Err(error) => {
                let enrolment = self
                    .begin_authenticator_enrolment(&user)
                    .await
                    .map_err(|e| target.error(self, e.into()))?;
                Ok(SecondFactorResult::Retry {
                    prompt: Box::new(SecondFactorPrompt {
                        stage: Stage::Enrol,
                        sealed: SealedPending::kept(sealed, browser_cookie),
                        prompt: target.prompt(),
                        enrolment: Some(enrolment),
                        offer: Offer::default(),
                    }),
                    error,
                })
            }
        }
    }

    /// "Continue" under the recovery codes shown at a sign-in enrolment.
    pub async fn continue_proven_sign_in(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
        ctx: &SignInContext<'_>,
    ) -> Result<(SignedIn, String), AuthorizeError> {
        let pending = self
            .open_pending(sealed, browser_cookie, Stage::Proven)
            .map_err(AuthorizeError::Page)?;
        let done = self
            .complete_sign_in(pending.auth, &pending.ticket, ctx)
            .await?;
        Ok((done, self.seal_login_ticket(&pending.ticket)))
    }

    /// A posted pending sign-in at `stage`, opened with the browser's binding cookie (the
    /// error page if it does not open), where it leads, and its person.
    pub(in crate::oauth) async fn open_second_step(
        &self,
        sealed: &str,
        browser_cookie: Option<&str>,
        stage: Stage,
    ) -> Result<(PendingSignIn, SignInTarget, User), AuthorizeError> {
        let pending = self
            .open_pending(sealed, browser_cookie, stage)
            .map_err(AuthorizeError::Page)?;
        let target = self.sign_in_target(&pending.ticket).await?;
        let user = self.pending_user(&pending, &target).await?;
        Ok((pending, target, user))
    }

    async fn pending_user(
        &self,
        pending: &PendingSignIn,
        target: &SignInTarget,
    ) -> Result<User, AuthorizeError> {
        self.users
            .find_user_by_id(&pending.auth.user_id)
            .await
            .map_err(|e| target.error(self, e.into()))?
            .ok_or_else(|| {
                target.error(
                    self,
                    OAuthError::AccessDenied("the user no longer exists".into()),
                )
            })
    }
}

/// The methods of a sign-in after a second factor: the first ones plus those the second
/// factor proved (`otp` for a code; `hwk`/`swk` and `user` for a passkey), each once.
pub fn with_methods(methods: &[AuthMethod], added: &[AuthMethod]) -> Vec<AuthMethod> {
    let mut out = methods.to_vec();
    out.extend_from_slice(added);
    amr(&out)
        .into_iter()
        .filter(|m| *m != AuthMethod::Mfa)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_after_a_password_adds_otp_once() {
        assert_eq!(
            with_methods(&[AuthMethod::Pwd], &[AuthMethod::Otp]),
            vec![AuthMethod::Pwd, AuthMethod::Otp]
        );
        assert_eq!(
            with_methods(&[AuthMethod::Pwd, AuthMethod::Otp], &[AuthMethod::Otp]),
            vec![AuthMethod::Pwd, AuthMethod::Otp]
        );
    }

    #[test]
    fn a_passkey_after_a_password_adds_its_methods() {
        let methods = with_methods(&[AuthMethod::Pwd], &[AuthMethod::Hwk, AuthMethod::User]);
        assert_eq!(
            methods,
            vec![AuthMethod::Pwd, AuthMethod::Hwk, AuthMethod::User]
        );
        assert!(amr(&methods).contains(&AuthMethod::Mfa));
    }
}
