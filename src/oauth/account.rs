//! The account page's protocol side: what a signed-in person sees of their account (profile,
//! connected apps, sessions) and the changes they may make. Every change is made for the
//! user of the current session only; ending sessions goes through `sessions_end`, so the
//! clients of those sessions receive back-channel logout.
use std::net::IpAddr;

use super::error::{OAuthError, OAuthResult};
use super::interaction::{Attempt, LoginRejection, PasswordCheck};
use super::model::{Session, User};
use super::ports::{ProfileUpdate, SessionSelection};
use super::{Provider, now};
use crate::audit;
use crate::domain::{ClientId, DisplayName, EmailAddress, NewPassword, Scope};

/// A client the person has approved (OpenID Connect Core section 3.1.2.4 consent).
#[derive(Debug, Clone)]
pub struct ConnectedApp {
    pub client_id: String,
    /// The client's display name (its id when it has none, or when it no longer exists).
    pub name: String,
    pub scope: Scope,
    /// When the person first approved it, and when they last approved more.
    pub granted_at: i64,
    pub updated_at: i64,
}

/// One live session of the person.
#[derive(Debug, Clone)]
pub struct SessionItem {
    /// Its public identifier (`Provider::session_sid`), used by the sign-out buttons.
    pub sid: String,
    pub session: Session,
    /// The session of the browser looking at the page.
    pub current: bool,
}

/// Everything the account page shows.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    pub user: User,
    pub apps: Vec<ConnectedApp>,
    pub sessions: Vec<SessionItem>,
    /// How many passkeys the person has registered; `None` when passkeys are off.
    pub passkeys: Option<usize>,
}

/// Why a change on the account page was refused. Each is shown next to its form.
#[derive(Debug)]
pub enum AccountError {
    /// The display name is blank, too long or has control characters.
    InvalidName,
    /// The email address is not one.
    InvalidEmail,
    /// The new password is shorter or longer than allowed.
    PasswordLength,
    /// The new password and its repetition differ.
    PasswordMismatch,
    /// The current password was wrong, or checking it is throttled (the sign-in throttle).
    CurrentPassword(LoginRejection),
    /// A storage failure.
    Failed(OAuthError),
}

impl From<OAuthError> for AccountError {
    fn from(e: OAuthError) -> Self {
        Self::Failed(e)
    }
}

impl From<anyhow::Error> for AccountError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// A password change as typed into the form.
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub repeat: &'a str,
}

impl Provider {
    /// The account page of the person signed in with `session`.
    pub async fn account_overview(
        &self,
        session: &Session,
        user: User,
    ) -> OAuthResult<AccountOverview> {
        let apps = self.connected_apps(&user.id).await?;
        let current = self.session_sid(session);
        let sessions = self
            .sessions
            .user_sessions(&user.id, now())
            .await?
            .into_iter()
            .map(|s| {
                let sid = self.session_sid(&s);
                SessionItem {
                    current: sid == current,
                    sid,
                    session: s,
                }
            })
            .collect();
        let passkeys = match &self.passkeys {
            Some(_) => Some(
                self.list_passkeys(&user.id)
                    .await
                    .map_err(OAuthError::from)?
                    .len(),
            ),
            None => None,
        };
        Ok(AccountOverview {
            user,
            apps,
            sessions,
            passkeys,
        })
    }

    async fn connected_apps(&self, user_id: &str) -> OAuthResult<Vec<ConnectedApp>> {
        let mut apps = Vec::new();
        for c in self.accounts.user_consents(user_id).await? {
            let client = match ClientId::parse(&c.client_id) {
                Ok(id) => self.clients.find_client(&id).await?,
                Err(_) => None,
            };
            let name = client
                .filter(|c| !c.name.is_empty())
                .map(|c| c.name.clone())
                .unwrap_or_else(|| c.client_id.clone());
            apps.push(ConnectedApp {
                name,
                scope: Scope::parse(&c.scope).unwrap_or_default(),
                granted_at: c.created_at,
                updated_at: c.updated_at,
                client_id: c.client_id,
            });
        }
        apps.sort_by_key(|a| a.name.to_lowercase());
        Ok(apps)
    }

    /// Sets the display name and email. A new email address is not verified (the
    /// `email_verified` claim, OpenID Connect Core section 5.1) until an operator says so.
    pub async fn update_profile(
        &self,
        user: &User,
        name: &str,
        email: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<(), AccountError> {
        let name = name.trim();
        let email = email.trim();
        let name = match name {
            "" => None,
            n => Some(
                DisplayName::parse("name", n)
                    .map_err(|_| AccountError::InvalidName)?
                    .into_string(),
            ),
        };
        let email = match email {
            "" => None,
            e => Some(
                EmailAddress::parse(e)
                    .map_err(|_| AccountError::InvalidEmail)?
                    .into_string(),
            ),
        };
        let email_verified = user.email_verified && email == user.email;
        self.accounts
            .update_profile(
                &user.id,
                &ProfileUpdate {
                    name,
                    email,
                    email_verified,
                },
                now(),
            )
            .await?;
        audit::Event::new(audit::Kind::UserProfileChanged)
            .user(&user.id)
            .from(source_ip)
            .emit();
        Ok(())
    }

    /// Changes the password after checking the current one (through the sign-in throttle:
    /// guessing here counts as guessing at the login form). Every other session of the
    /// person ends, with back-channel logout to its clients; this one stays.
    pub async fn change_password(
        &self,
        session: &Session,
        user: &User,
        change: &PasswordChange<'_>,
        source_ip: Option<IpAddr>,
    ) -> Result<(), AccountError> {
        let new = NewPassword::parse(change.new).map_err(|_| AccountError::PasswordLength)?;
        if change.new != change.repeat {
            return Err(AccountError::PasswordMismatch);
        }
        let attempt = Attempt {
            username: &user.username,
            password: change.current,
            source_ip,
            client_id: None,
            reauthentication: true,
        };
        match self.check_sign_in(&attempt).await? {
            PasswordCheck::Rejected(reason) => return Err(AccountError::CurrentPassword(reason)),
            PasswordCheck::Proved(found) if found.user.id == user.id => {}
            PasswordCheck::Proved(_) => {
                return Err(AccountError::CurrentPassword(
                    LoginRejection::WrongCredentials,
                ));
            }
        }
        let hash = self.passwords.hash_bounded(new.as_str().to_owned()).await?;
        self.accounts
            .set_password_hash(&user.id, &hash, now())
            .await?;
        audit::Event::new(audit::Kind::UserPasswordChanged)
            .user(&user.id)
            .from(source_ip)
            .emit();
        let ended = self
            .end_sessions(&user.id, SessionSelection::AllBut(&session.id_hash))
            .await?;
        audit_sessions_ended(&user.id, ended, "password changed", source_ip);
        Ok(())
    }

    /// Withdraws the person's approval of a client: the consent is deleted and every grant
    /// of the person to that client revoked (its refresh tokens deleted, its access tokens
    /// on the revocation list). Returns whether there was a consent.
    pub async fn revoke_connected_app(
        &self,
        user: &User,
        client_id: &str,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<bool> {
        // Grants first: if this fails half-way the app is still listed and can be revoked
        // again; the other way round, live tokens would be left without a button.
        self.accounts
            .revoke_client_grants(&user.id, client_id, now())
            .await?;
        let had = self.accounts.delete_consent(&user.id, client_id).await?;
        if had {
            audit::Event::new(audit::Kind::ConsentRevoked)
                .client(client_id)
                .user(&user.id)
                .from(source_ip)
                .emit();
        }
        Ok(had)
    }

    /// Signs out one of the person's sessions, named by its `sid`. Returns whether it was
    /// theirs and live.
    pub async fn sign_out_session(
        &self,
        user: &User,
        sid: &str,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<bool> {
        let sessions = self.sessions.user_sessions(&user.id, now()).await?;
        let Some(target) = sessions.iter().find(|s| self.session_sid(s) == sid) else {
            return Ok(false);
        };
        let ended = self
            .end_sessions(&user.id, SessionSelection::Only(&target.id_hash))
            .await?;
        audit_sessions_ended(
            &user.id,
            ended,
            "signed out from the account page",
            source_ip,
        );
        Ok(ended > 0)
    }

    /// Signs out every session of the person, this one included.
    pub async fn sign_out_everywhere(
        &self,
        user: &User,
        source_ip: Option<IpAddr>,
    ) -> OAuthResult<u64> {
        let ended = self.end_sessions(&user.id, SessionSelection::All).await?;
        audit_sessions_ended(&user.id, ended, "signed out everywhere", source_ip);
        Ok(ended)
    }
}

fn audit_sessions_ended(user_id: &str, ended: u64, reason: &str, source_ip: Option<IpAddr>) {
    if ended > 0 {
        audit::Event::new(audit::Kind::SessionEnded)
            .user(user_id)
            .reason(reason)
            .from(source_ip)
            .emit();
    }
}
