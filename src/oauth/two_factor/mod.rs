//! Authenticator codes as a second factor: enrolment (a new secret, confirmed by a first
//! valid code), checking a code or a recovery code at sign-in (single use, throttled like
//! passwords), regenerating recovery codes, removal. The secrets are sealed with the master
//! key's sealing subkey, bound to their user; recovery codes are stored as keyed hashes.
//!
//! Storage through `ports::TwoFactorRepository`; no HTTP here.
pub mod acr;
pub mod recovery;
pub mod sign_in;
pub mod totp;

use std::net::IpAddr;

use super::error::{OAuthError, OAuthResult};
use super::model::User;
use super::throttle::{self, Verdict};
use super::{Provider, now};
use crate::audit;
pub use totp::TotpSecret;

/// An authenticator as stored: one per person.
#[derive(Debug, Clone)]
pub struct Authenticator {
    pub user_id: String,
    /// The secret sealed with the master key (`Sealer::seal`, context `totp:<user id>`).
    pub secret_sealed: String,
    /// When a first valid code confirmed it; until then it does not count.
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted: it and every earlier step are refused
    /// (RFC 6238 section 5.2: a code is accepted once).
    pub last_used_step: Option<i64>,
    pub created_at: i64,
}

/// A person's two-factor state, for the account page and the sign-in decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TwoFactorStatus {
    /// When the (confirmed) authenticator was enrolled.
    pub authenticator_since: Option<i64>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u64,
}

impl TwoFactorStatus {
    pub fn has_authenticator(&self) -> bool {
        self.authenticator_since.is_some()
    }
}

/// What the account page shows to enrol: the secret as a URI for the QR code and as text.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: TotpSecret,
    pub otpauth_uri: String,
}

/// Which proof passed a second-factor check (RFC 8176: `otp` for both; a recovery code is
/// a one-time password printed in advance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Authenticator,
    RecoveryCode,
}

/// Why a two-factor operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error("no authenticator is enrolled")]
    NotEnrolled,
    #[error("an authenticator is already enrolled")]
    AlreadyEnrolled,
    /// Wrong, malformed, expired, replayed or already used: one message for all of them.
    #[error("the code is not valid")]
    WrongCode,
    #[error("too many attempts; try again in {retry_after} s")]
    Throttled { retry_after: u64 },
    #[error("locked for {retry_after} s")]
    Locked { retry_after: u64 },
    #[error(transparent)]
    Internal(#[from] OAuthError),
}

impl From<anyhow::Error> for TwoFactorError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e.into())
    }
}

/// An unconfirmed enrolment is shown again (same secret) for this long, so reloading the
/// page does not invalidate a QR code already scanned.
const PENDING_REUSE: i64 = 10 * 60;

/// The throttle keys of one person's second-factor checks from one address.
struct Subjects {
    pair: String,
    account: String,
}

impl Provider {
    fn seal_context(user_id: &str) -> String {
        format!("totp:{user_id}")
    }

    fn open_secret(&self, a: &Authenticator) -> OAuthResult<TotpSecret> {
        let bytes = self
            .sealer
            .open(&a.secret_sealed, &Self::seal_context(&a.user_id))?;
        TotpSecret::from_bytes(&bytes).ok_or_else(|| {
            OAuthError::Internal(anyhow::anyhow!("stored TOTP secret has the wrong length"))
        })
    }

    /// The person's authenticator and recovery-code state.
    pub async fn two_factor_status(&self, user_id: &str) -> OAuthResult<TwoFactorStatus> {
        let authenticator = self.two_factor.find_authenticator(user_id).await?;
        let since = authenticator.and_then(|a| a.confirmed_at);
        let left = if since.is_some() {
            self.two_factor.unused_recovery_codes(user_id).await?
        } else {
            0
        };
        Ok(TwoFactorStatus {
            authenticator_since: since,
            recovery_codes_left: left,
        })
    }

    /// Starts (or shows again) an enrolment: a new secret, stored unconfirmed.
    pub async fn begin_authenticator_enrolment(
        &self,
        user: &User,
    ) -> Result<Enrolment, TwoFactorError> {
        let t = now();
        let existing = self.two_factor.find_authenticator(&user.id).await?;
        let secret = match existing {
            Some(a) if a.confirmed_at.is_some() => return Err(TwoFactorError::AlreadyEnrolled),
            Some(a) if t - a.created_at < PENDING_REUSE => self.open_secret(&a)?,
            _ => {
                let secret = TotpSecret::generate();
                let sealed = self
                    .sealer
                    .seal(secret.as_bytes(), &Self::seal_context(&user.id));
                if !self
                    .two_factor
                    .begin_authenticator(&user.id, &sealed, t)
                    .await?
                {
                    return Err(TwoFactorError::AlreadyEnrolled);
                }
                secret
            }
        };
        let issuer = self.settings.branding.product_name.as_str();
        Ok(Enrolment {
            otpauth_uri: secret.otpauth_uri(issuer, &user.username),
            secret,
        })
    }

    /// Confirms the pending enrolment with a first code; returns the new recovery codes
    /// (shown once).
    pub async fn confirm_authenticator_enrolment(
        &self,
        user: &User,
        code: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<Vec<String>, TwoFactorError> {
        let subjects = self.second_factor_subjects(&user.id, source_ip);
        self.second_factor_allowed(&subjects, user, source_ip)
            .await?;
        let pending = match self.two_factor.find_authenticator(&user.id).await? {
            Some(a) if a.confirmed_at.is_some() => return Err(TwoFactorError::AlreadyEnrolled),
            Some(a) => a,
            None => return Err(TwoFactorError::NotEnrolled),
        };
        let t = now();
        let secret = self.open_secret(&pending)?;
        let Some(step) = secret.matching_step(code, t) else {
            self.second_factor_failed(&subjects, user, source_ip, None, "wrong code")
                .await?;
            return Err(TwoFactorError::WrongCode);
        };
        let codes = recovery::generate();
        let hashes = self.recovery_hashes(&user.id, &codes);
        if !self
            .two_factor
            .confirm_authenticator(&user.id, &pending.secret_sealed, step, &hashes, t)
            .await?
        {
            // Another enrolment replaced or confirmed this one meanwhile.
            return Err(TwoFactorError::WrongCode);
        }
        self.login_throttle.clear_failures(&subjects.pair).await?;
        audit::Event::new(audit::Kind::TwoFactorEnrolled)
            .user(&user.id)
            .from(source_ip)
            .reason("authenticator")
            .emit();
        Ok(codes)
    }

    /// Checks a code from the authenticator or a recovery code, throttled per (person,
    /// address) and per person like passwords. A code is accepted once.
    pub async fn check_second_factor(
        &self,
        user: &User,
        typed: &str,
        client_id: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<SecondFactor, TwoFactorError> {
        let (subjects, authenticator) = self.begin_check(user, source_ip).await?;
        let used = if let Some(canonical) = recovery::normalize(typed) {
            let hash = recovery::hash(&self.hasher, &user.id, &canonical);
            self.two_factor
                .use_recovery_code(&user.id, &hash, now())
                .await?
                .then_some(SecondFactor::RecoveryCode)
        } else {
            self.accept_authenticator_code(&authenticator, typed)
                .await?
                .then_some(SecondFactor::Authenticator)
        };
        let Some(used) = used else {
            self.second_factor_failed(&subjects, user, source_ip, client_id, "wrong code")
                .await?;
            return Err(TwoFactorError::WrongCode);
        };
        self.login_throttle.clear_failures(&subjects.pair).await?;
        let kind = match used {
            SecondFactor::Authenticator => audit::Kind::SecondFactorSucceeded,
            SecondFactor::RecoveryCode => audit::Kind::RecoveryCodeUsed,
        };
        let mut event = audit::Event::new(kind).user(&user.id).from(source_ip);
        if let Some(c) = client_id {
            event = event.client(c);
        }
        event.emit();
        Ok(used)
    }

    /// Whether `typed` is the code of a step after the last one used; if so, that step is
    /// recorded as used (a conditional update, so of two nodes given the same code at once
    /// only one accepts it).
    async fn accept_authenticator_code(&self, a: &Authenticator, typed: &str) -> OAuthResult<bool> {
        let secret = self.open_secret(a)?;
        let Some(step) = secret.matching_step(typed, now()) else {
            return Ok(false);
        };
        Ok(self
            .two_factor
            .record_authenticator_step(&a.user_id, step)
            .await?)
    }

    /// Replaces every recovery code with ten new ones (shown once).
    pub async fn regenerate_recovery_codes(
        &self,
        user: &User,
        source_ip: Option<IpAddr>,
    ) -> Result<Vec<String>, TwoFactorError> {
        if !self.two_factor_status(&user.id).await?.has_authenticator() {
            return Err(TwoFactorError::NotEnrolled);
        }
        let codes = recovery::generate();
        let hashes = self.recovery_hashes(&user.id, &codes);
        self.two_factor
            .replace_recovery_codes(&user.id, &hashes, now())
            .await?;
        audit::Event::new(audit::Kind::RecoveryCodesRegenerated)
            .user(&user.id)
            .from(source_ip)
            .emit();
        Ok(codes)
    }

    /// Removes the authenticator and the recovery codes, after proof of presence: a current
    /// code from the authenticator, or the password. Throttled like a sign-in.
    pub async fn remove_authenticator(
        &self,
        user: &User,
        code_or_password: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<(), TwoFactorError> {
        let (subjects, authenticator) = self.begin_check(user, source_ip).await?;
        let by_code = self
            .accept_authenticator_code(&authenticator, code_or_password)
            .await?;
        let proven = by_code
            || self
                .passwords
                .verify_bounded(
                    code_or_password.to_owned(),
                    Some(user.password_hash.clone()),
                )
                .await?;
        if !proven {
            self.second_factor_failed(&subjects, user, source_ip, None, "wrong code or password")
                .await?;
            return Err(TwoFactorError::WrongCode);
        }
        self.login_throttle.clear_failures(&subjects.pair).await?;
        self.two_factor.remove_authenticator(&user.id).await?;
        audit::Event::new(audit::Kind::TwoFactorRemoved)
            .user(&user.id)
            .from(source_ip)
            .reason("authenticator")
            .emit();
        Ok(())
    }

    /// The throttle's go-ahead for a check, and the confirmed authenticator to check with.
    async fn begin_check(
        &self,
        user: &User,
        source_ip: Option<IpAddr>,
    ) -> Result<(Subjects, Authenticator), TwoFactorError> {
        let subjects = self.second_factor_subjects(&user.id, source_ip);
        self.second_factor_allowed(&subjects, user, source_ip)
            .await?;
        let authenticator = self
            .two_factor
            .find_authenticator(&user.id)
            .await?
            .filter(|a| a.confirmed_at.is_some())
            .ok_or(TwoFactorError::NotEnrolled)?;
        Ok((subjects, authenticator))
    }

    fn recovery_hashes(&self, user_id: &str, codes: &[String]) -> Vec<String> {
        codes
            .iter()
            .filter_map(|c| recovery::normalize(c))
            .map(|c| recovery::hash(&self.hasher, user_id, &c))
            .collect()
    }

    /// Keyed by user id (the person is known after the password), never by a code.
    fn second_factor_subjects(&self, user_id: &str, source_ip: Option<IpAddr>) -> Subjects {
        let ip = source_ip.map(|ip| ip.to_string()).unwrap_or_default();
        Subjects {
            pair: self
                .hasher
                .hash(&format!("second-factor-pair\n{user_id}\n{ip}")),
            account: self.hasher.hash(&format!("second-factor\n{user_id}")),
        }
    }

    /// The throttle's verdict before a check (`[login]` limits); a refusal is not recorded.
    async fn second_factor_allowed(
        &self,
        s: &Subjects,
        user: &User,
        source_ip: Option<IpAddr>,
    ) -> Result<(), TwoFactorError> {
        let t = now();
        let since = t - self.settings.login.failure_window as i64;
        let (pair, all) = self
            .login_throttle
            .failure_stats(&s.pair, &s.account, since)
            .await?;
        match throttle::verdict(&self.settings.login, pair, all, t) {
            Verdict::Allow => Ok(()),
            Verdict::Wait { retry_after } => {
                audit::Event::new(audit::Kind::LoginThrottled)
                    .user(&user.id)
                    .from(source_ip)
                    .reason("second factor")
                    .retry_after(retry_after)
                    .emit();
                Err(TwoFactorError::Throttled { retry_after })
            }
            Verdict::Locked { retry_after } => {
                audit::Event::new(audit::Kind::LoginLocked)
                    .user(&user.id)
                    .from(source_ip)
                    .reason("second factor")
                    .retry_after(retry_after)
                    .emit();
                Err(TwoFactorError::Locked { retry_after })
            }
        }
    }

    /// Records a failed check; `Locked` when this failure set off the lock.
    async fn second_factor_failed(
        &self,
        s: &Subjects,
        user: &User,
        source_ip: Option<IpAddr>,
        client_id: Option<&str>,
        reason: &str,
    ) -> Result<(), TwoFactorError> {
        let t = now();
        let since = t - self.settings.login.failure_window as i64;
        self.login_throttle
            .record_failure(&[&s.pair, &s.account], t)
            .await?;
        let mut event = audit::Event::new(audit::Kind::SecondFactorFailed)
            .user(&user.id)
            .from(source_ip)
            .reason(reason);
        if let Some(c) = client_id {
            event = event.client(c);
        }
        event.emit();
        let (pair, all) = self
            .login_throttle
            .failure_stats(&s.pair, &s.account, since)
            .await?;
        if let Verdict::Locked { retry_after } =
            throttle::verdict(&self.settings.login, pair, all, t)
        {
            audit::Event::new(audit::Kind::LoginLocked)
                .user(&user.id)
                .from(source_ip)
                .reason("second factor")
                .retry_after(retry_after)
                .emit();
            return Err(TwoFactorError::Locked { retry_after });
        }
        Ok(())
    }
}

impl From<TwoFactorError> for OAuthError {
    fn from(e: TwoFactorError) -> Self {
        match e {
            TwoFactorError::Internal(e) => e,
            other => OAuthError::AccessDenied(other.to_string()),
        }
    }
}
