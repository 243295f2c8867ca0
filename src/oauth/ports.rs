//! Storage traits, named after the protocol operations that need them (after fosite's
//! storage interfaces). `store` implements them on sea-orm; tests may implement them in
//! memory. Failures are infrastructure failures (`anyhow::Error`): the core maps them to
//! `server_error` and logs them.
use std::sync::Arc;

use async_trait::async_trait;

use super::model::Client;
use super::throttle::FailureStats;
use crate::domain::ClientId;

#[async_trait]
pub trait ClientRepository: Send + Sync {
    /// Shared, not copied: a per-node cache hands every request the same record.
    async fn find_client(&self, id: &ClientId) -> anyhow::Result<Option<Arc<Client>>>;
}

/// Remembers the `jti` of `private_key_jwt` assertions until they expire (RFC 7523
/// section 3, item 7), across every node.
#[async_trait]
pub trait AssertionReplayCache: Send + Sync {
    /// Records the `jti`; returns `false` when it was already recorded for this client,
    /// which means the assertion is a replay. Must be atomic across nodes.
    async fn record_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
    ) -> anyhow::Result<bool>;
}

/// Revoked JWT access tokens (RFC 7009), kept until the token would have expired anyway.
#[async_trait]
pub trait AccessTokenRevocations: Send + Sync {
    async fn revoke_access_token(
        &self,
        jti: &str,
        client_id: &ClientId,
        expires_at: i64,
    ) -> anyhow::Result<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> anyhow::Result<bool>;
}

/// The database could not be reached (connection refused or lost, pool exhausted, server
/// shutting down). Storage implementations put it in the error chain so that callers can
/// answer 503 "try again" instead of 500; it carries the driver's message for the log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageUnavailable(pub String);

/// Whether the database answers (for `/readyz`).
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn ping(&self) -> anyhow::Result<()>;
    /// The connection pool now, for metrics.
    fn pool_usage(&self) -> crate::metrics::PoolUsage;
}

use super::model::{AuthorizationCode, Grant, RefreshToken, Session, SignInUser, User};

/// Which of a person's sessions to end, by id hash.
#[derive(Debug, Clone, Copy)]
pub enum SessionSelection<'a> {
    All,
    AllBut(&'a str),
    Only(&'a str),
}

/// An ended session whose back-channel logouts are due (the logout outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    pub id_hash: String,
    pub user_id: String,
    /// The clients granted something in the session, recorded when it ended (their grants
    /// may be gone by delivery: a deleted user's are). `None` for entries queued before
    /// they were recorded: look them up by `sid`.
    pub client_ids: Option<Vec<String>>,
}

/// A remembered consent as the account page lists it.
#[derive(Debug, Clone)]
pub struct ConsentRecord {
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A person's new profile, already validated.
#[derive(Debug, Clone)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_user_by_id(&self, id: &str) -> anyhow::Result<Option<User>>;
    async fn find_user_by_username(&self, username: &str) -> anyhow::Result<Option<User>>;
    /// The user of that name and whether they have a confirmed authenticator, in one query:
    /// what a password sign-in reads before the two-factor hook.
    async fn find_user_for_sign_in(&self, username: &str) -> anyhow::Result<Option<SignInUser>>;
}

/// Failed authentication attempts (sign-ins and client authentication), shared by every
/// node. Subjects are opaque keyed hashes made by `oauth::throttle`'s callers.
#[async_trait]
pub trait LoginThrottle: Send + Sync {
    /// Failures recorded at or after `since` under each of two subjects (an address and
    /// name pair, and the name or client alone), in one round trip: how many, and the latest.
    async fn failure_stats(
        &self,
        pair: &str,
        all: &str,
        since: i64,
    ) -> anyhow::Result<(FailureStats, FailureStats)>;
    /// Records one failure at `at` under each subject.
    async fn record_failure(&self, subjects: &[&str], at: i64) -> anyhow::Result<()>;
    async fn clear_failures(&self, subject: &str) -> anyhow::Result<()>;
}

#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn create_session(&self, session: &Session) -> anyhow::Result<()>;
    /// The session, if it exists and has not expired at `now`.
    async fn find_session(&self, id_hash: &str, now: i64) -> anyhow::Result<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> anyhow::Result<()>;
    /// Records that the session was used at `now` (`last_seen_at`).
    async fn touch_session(&self, id_hash: &str, now: i64) -> anyhow::Result<()>;
    /// The person's unexpired sessions, most recently used first.
    async fn user_sessions(&self, user_id: &str, now: i64) -> anyhow::Result<Vec<Session>>;
    /// Deletes the selected sessions of the person and queues each as an `EndedSession`
    /// (with the clients granted something in it), in one transaction. Returns how many
    /// ended.
    async fn end_sessions(
        &self,
        user_id: &str,
        which: SessionSelection<'_>,
        now: i64,
    ) -> anyhow::Result<u64>;
    /// Up to `limit` queued ended sessions, oldest first.
    async fn pending_logouts(&self, limit: u64) -> anyhow::Result<Vec<EndedSession>>;
    /// Takes a queued ended session for delivery: true for exactly one caller across nodes.
    async fn claim_logout(&self, id_hash: &str) -> anyhow::Result<bool>;
}

/// What the account page reads and changes of the signed-in person.
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// Every client the person has approved, with the approved scope.
    async fn user_consents(&self, user_id: &str) -> anyhow::Result<Vec<ConsentRecord>>;
    async fn update_profile(
        &self,
        user_id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> anyhow::Result<()>;
    /// Replaces the password hash (sessions are ended separately).
    async fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> anyhow::Result<()>;
    /// Revokes (`GrantRepository::revoke_grant`) every live grant of the person to the client.
    async fn revoke_client_grants(
        &self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> anyhow::Result<()>;
    /// Deletes the consent; returns whether there was one.
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> anyhow::Result<bool>;
}

/// Remembered consent (OpenID Connect Core section 3.1.2.4), per user and client.
#[async_trait]
pub trait ConsentRepository: Send + Sync {
    /// The space-delimited scope the user has approved for the client, if any.
    async fn find_consent(&self, user_id: &str, client_id: &str) -> anyhow::Result<Option<String>>;
    /// Stores (insert or replace) the approved scope.
    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> anyhow::Result<()>;
}

/// What presenting an authorization code did (`GrantRepository::redeem_authorization_code`).
#[derive(Debug)]
pub enum CodeRedemption {
    /// It was unused and issued to this client: it is now used, by this call.
    Redeemed(Box<RedeemedCode>),
    /// It was used before: a replay (RFC 6749 section 4.1.2). Nothing changed.
    AlreadyUsed { grant_id: String },
    /// It was issued to another client. Nothing changed.
    OtherClient,
    /// No such code (never issued, expired and removed, or its grant revoked).
    Unknown,
}

/// A code this call redeemed, with the person it was issued for as they are now (read in
/// the same round trip where the database allows; `None`: the user no longer exists).
#[derive(Debug)]
pub struct RedeemedCode {
    pub code: AuthorizationCode,
    pub user: Option<User>,
}

/// Grants, authorization codes, refresh tokens and the access tokens issued under a grant.
#[async_trait]
pub trait GrantRepository: Send + Sync {
    /// Stores a new grant with its authorization code, together or not at all. With
    /// `new_session`, the session of a sign-in that goes straight on to this code is stored
    /// in the same write (all three or none).
    async fn create_grant_with_code(
        &self,
        grant: &Grant,
        code: &AuthorizationCode,
        new_session: Option<&Session>,
    ) -> anyhow::Result<()>;
    async fn find_grant(&self, id: &str) -> anyhow::Result<Option<Grant>>;
    /// The clients that were granted something in the session `sid` (Back-Channel Logout).
    async fn session_clients(&self, sid: &str) -> anyhow::Result<Vec<String>>;
    /// Marks the grant revoked, deletes its refresh tokens and unused codes, and adds every
    /// unexpired access token issued under it to the revocation list. Idempotent.
    async fn revoke_grant(&self, id: &str, now: i64) -> anyhow::Result<()>;

    /// Consumes the code issued to `client_id` (sets `consumed_at = now` if it is unset) and
    /// returns it with its user, or says why not. Must be atomic across nodes: of two concurrent calls
    /// exactly one redeems it, and the other finds it already used.
    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> anyhow::Result<CodeRedemption>;

    /// The grant an access token was recorded under, if any (client-credentials tokens have
    /// none).
    async fn access_token_grant(&self, jti: &str) -> anyhow::Result<Option<String>>;
    /// Records what was just issued under a grant: the access token `jti` (so that revoking
    /// the grant revokes it) and, when given, a new refresh token. All of it atomically,
    /// unless the grant is revoked: then nothing is recorded and the answer is false, and
    /// the tokens must be withheld. Must be serialised with `revoke_grant`
    /// across nodes: a token recorded here is either on the list a concurrent revocation
    /// revokes, or refused.
    async fn record_grant_tokens(
        &self,
        grant_id: &str,
        jti: &str,
        expires_at: i64,
        refresh_token: Option<&RefreshToken>,
    ) -> anyhow::Result<bool>;

    async fn find_refresh_token(&self, token_hash: &str) -> anyhow::Result<Option<RefreshToken>>;
    /// Sets `rotated_at = now` if it is unset; returns whether this call set it (atomic, as
    /// for codes).
    async fn mark_refresh_token_rotated(&self, token_hash: &str, now: i64) -> anyhow::Result<bool>;
}

/// Second factors: the authenticator (TOTP) of each person and their recovery codes.
#[async_trait]
pub trait TwoFactorRepository: Send + Sync {
    async fn find_authenticator(
        &self,
        user_id: &str,
    ) -> anyhow::Result<Option<super::two_factor::Authenticator>>;
    /// Stores a new unconfirmed authenticator, replacing an unconfirmed one; returns false
    /// (and changes nothing) when a confirmed one exists.
    async fn begin_authenticator(
        &self,
        user_id: &str,
        secret_sealed: &str,
        now: i64,
    ) -> anyhow::Result<bool>;
    /// Confirms the unconfirmed authenticator whose sealed secret is `secret_sealed`,
    /// recording `step` as used, and replaces the recovery codes with `recovery_hashes`, in
    /// one transaction. False when there is no such unconfirmed authenticator.
    async fn confirm_authenticator(
        &self,
        user_id: &str,
        secret_sealed: &str,
        step: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> anyhow::Result<bool>;
    /// Records `step` as used if it is later than the last used step of the confirmed
    /// authenticator; returns whether it did. Atomic across nodes (a conditional UPDATE): of
    /// two calls with the same step exactly one returns true.
    async fn record_authenticator_step(&self, user_id: &str, step: i64) -> anyhow::Result<bool>;
    /// Deletes the authenticator and every recovery code; returns whether there was one.
    async fn remove_authenticator(&self, user_id: &str) -> anyhow::Result<bool>;
    /// Replaces every recovery code of the person with these (keyed hashes).
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> anyhow::Result<()>;
    /// Marks the unused code with this hash used; returns whether this call did (atomic:
    /// a code is accepted once, whatever node is asked).
    async fn use_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> anyhow::Result<bool>;
    async fn unused_recovery_codes(&self, user_id: &str) -> anyhow::Result<u64>;
}

use super::model::{PasskeyCeremony, StoredPasskey};

/// Registered passkeys (WebAuthn credentials) and the ceremonies in progress.
#[async_trait]
pub trait PasskeyRepository: Send + Sync {
    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> anyhow::Result<Vec<StoredPasskey>>;
    /// The passkey with this credential id (base64url), whoever it belongs to.
    async fn find_passkey_by_credential_id(
        &self,
        credential_id: &str,
    ) -> anyhow::Result<Option<StoredPasskey>>;
    /// Stores a new passkey; `false` when its credential id is registered already.
    async fn create_passkey(&self, passkey: &StoredPasskey) -> anyhow::Result<bool>;
    /// Renames one of the user's passkeys; `false` when the user has none with this id.
    async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> anyhow::Result<bool>;
    /// Deletes one of the user's passkeys; `false` when the user has none with this id.
    async fn delete_passkey(&self, user_id: &str, id: &str) -> anyhow::Result<bool>;
    /// After a sign-in: the credential's new serialised form (sign counter, backup state)
    /// and when it was used.
    async fn record_passkey_use(&self, id: &str, credential: &str, at: i64) -> anyhow::Result<()>;

    async fn create_passkey_ceremony(&self, ceremony: &PasskeyCeremony) -> anyhow::Result<()>;
    /// Removes and returns the ceremony if it exists and has not expired at `now`. Atomic
    /// across nodes: of two concurrent calls at most one gets it.
    async fn take_passkey_ceremony(
        &self,
        id_hash: &str,
        now: i64,
    ) -> anyhow::Result<Option<PasskeyCeremony>>;
}
