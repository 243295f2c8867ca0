//! Audit events: who did what, to which client, from which address. Each is one `tracing`
//! event with `target: "audit"` (so operators can route or filter them: `log.filter =
//! "warn,audit=info"`), a dotted `event` name and the fields `client_id`, `user_id`,
//! `source_ip`, `actor` where they apply. With `log.format = json` each is one JSON line.
//!
//! Never a secret: the API below has no field that could carry a password, a token, a code
//! or a client secret. Callers pass identifiers only.
//!
//! Depends on nothing but `tracing`, so the protocol core and the operator tasks can both
//! emit events.
use std::net::IpAddr;

/// What happened. The dotted names are the stable vocabulary operators alert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginSucceeded,
    LoginFailed,
    LoginLocked,
    LoginThrottled,
    SecondFactorSucceeded,
    SecondFactorFailed,
    RecoveryCodeUsed,
    TwoFactorEnrolled,
    TwoFactorRemoved,
    RecoveryCodesRegenerated,
    ClientAuthThrottled,
    ConsentGranted,
    ConsentDenied,
    ConsentRevoked,
    TokenIssued,
    TokenRevoked,
    ClientCreated,
    ClientDeleted,
    ClientUpdated,
    ClientSecretRotated,
    ClientExchangePolicyChanged,
    SessionEnded,
    UserCreated,
    UserDeleted,
    UserPasswordChanged,
    UserProfileChanged,
    KeyRotated,
    KeyRemoved,
    PasskeyRegistered,
    PasskeyRenamed,
    PasskeyRemoved,
    /// A passkey answer was refused (unknown or replayed ceremony, bad signature, wrong
    /// origin, unknown credential).
    PasskeyRejected,
    /// A credential's sign counter went backwards: it may have been cloned.
    PasskeyCounterRegressed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginSucceeded => "login.succeeded",
            Kind::LoginFailed => "login.failed",
            Kind::LoginLocked => "login.locked",
            Kind::LoginThrottled => "login.throttled",
            Kind::SecondFactorSucceeded => "login.second_factor.succeeded",
            Kind::SecondFactorFailed => "login.second_factor.failed",
            Kind::RecoveryCodeUsed => "login.recovery_code_used",
            Kind::TwoFactorEnrolled => "two_factor.enrolled",
            Kind::TwoFactorRemoved => "two_factor.removed",
            Kind::RecoveryCodesRegenerated => "two_factor.recovery_codes_regenerated",
            Kind::ClientAuthThrottled => "client_auth.throttled",
            Kind::ConsentGranted => "consent.granted",
            Kind::ConsentDenied => "consent.denied",
            Kind::ConsentRevoked => "consent.revoked",
            Kind::TokenIssued => "token.issued",
            Kind::TokenRevoked => "token.revoked",
            Kind::ClientCreated => "client.created",
            Kind::ClientDeleted => "client.deleted",
            Kind::ClientUpdated => "client.updated",
            Kind::ClientSecretRotated => "client.secret_rotated",
            Kind::ClientExchangePolicyChanged => "client.exchange_policy_changed",
            Kind::SessionEnded => "session.ended",
            Kind::UserCreated => "user.created",
            Kind::UserDeleted => "user.deleted",
            Kind::UserPasswordChanged => "user.password_changed",
            Kind::UserProfileChanged => "user.profile_changed",
            Kind::KeyRotated => "key.rotated",
            Kind::KeyRemoved => "key.removed",
            Kind::PasskeyRegistered => "passkey.registered",
            Kind::PasskeyRenamed => "passkey.renamed",
            Kind::PasskeyRemoved => "passkey.removed",
            Kind::PasskeyRejected => "passkey.rejected",
            Kind::PasskeyCounterRegressed => "passkey.counter_regressed",
        }
    }
}

/// Who acted, when it was not the person signing in: the operator CLI, or the server itself
/// (automatic key rotation, the janitor).
pub const ACTOR_CLI: &str = "cli";
pub const ACTOR_SERVER: &str = "server";

/// One audit event under construction; `emit` writes it.
#[derive(Debug, Clone, Copy)]
#[must_use = "an audit event is written only by emit()"]
pub struct Event<'a> {
    kind: Kind,
    client_id: Option<&'a str>,
    user_id: Option<&'a str>,
    username: Option<&'a str>,
    source_ip: Option<IpAddr>,
    actor: Option<&'a str>,
    grant_type: Option<&'a str>,
    scope: Option<&'a str>,
    token_type: Option<&'a str>,
    kid: Option<&'a str>,
    alg: Option<&'a str>,
    reason: Option<&'a str>,
    retry_after: Option<u64>,
    amr: Option<&'a str>,
}

/// Usernames are written at most this long (a password typed into the username field by
/// mistake is then at least cut short; operators need the name to see which account is
/// attacked).
const MAX_USERNAME: usize = 64;

impl<'a> Event<'a> {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            client_id: None,
            user_id: None,
            username: None,
            source_ip: None,
            actor: None,
            grant_type: None,
            scope: None,
            token_type: None,
            kid: None,
            alg: None,
            reason: None,
            retry_after: None,
            amr: None,
        }
    }

    pub fn client(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }

    pub fn client_opt(mut self, client_id: Option<&'a str>) -> Self {
        self.client_id = client_id;
        self
    }

    pub fn user(mut self, user_id: &'a str) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn user_opt(mut self, user_id: Option<&'a str>) -> Self {
        self.user_id = user_id;
        self
    }

    /// The username given at a sign-in attempt (truncated).
    pub fn username(mut self, username: &'a str) -> Self {
        let end = username
            .char_indices()
            .nth(MAX_USERNAME)
            .map_or(username.len(), |(i, _)| i);
        self.username = Some(&username[..end]);
        self
    }

    pub fn from(mut self, source_ip: Option<IpAddr>) -> Self {
        self.source_ip = source_ip;
        self
    }

    pub fn actor(mut self, actor: &'a str) -> Self {
        self.actor = Some(actor);
        self
    }

    pub fn grant_type(mut self, grant_type: &'a str) -> Self {
        self.grant_type = Some(grant_type);
        self
    }

    pub fn scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self
    }

    /// `access_token` or `refresh_token` (never the token itself).
    pub fn token_type(mut self, token_type: &'a str) -> Self {
        self.token_type = Some(token_type);
        self
    }

    pub fn key(mut self, kid: &'a str, alg: &'a str) -> Self {
        self.kid = Some(kid);
        self.alg = Some(alg);
        self
    }

    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// How a sign-in was proved: RFC 8176 `amr` values, space-separated (`hwk user`).
    pub fn amr(mut self, amr: &'a str) -> Self {
        self.amr = Some(amr);
        self
    }

    /// Seconds until a throttled or locked attempt may be made again.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn emit(self) {
        tracing::info!(
            target: "audit",
            event = self.kind.as_str(),
            client_id = self.client_id,
            user_id = self.user_id,
            username = self.username,
            source_ip = self.source_ip.map(tracing::field::display),
            actor = self.actor,
            grant_type = self.grant_type,
            scope = self.scope,
            token_type = self.token_type,
            kid = self.kid,
            alg = self.alg,
            reason = self.reason,
            retry_after = self.retry_after,
            amr = self.amr,
            "audit"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_usernames_are_cut_on_a_character_boundary() {
        let name = "é".repeat(100);
        let e = Event::new(Kind::LoginFailed).username(&name);
        assert_eq!(e.username.unwrap().chars().count(), MAX_USERNAME);
    }

    #[test]
    fn names_are_dotted_and_distinct() {
        let all = [
            Kind::LoginSucceeded,
            Kind::LoginFailed,
            Kind::LoginLocked,
            Kind::LoginThrottled,
            Kind::SecondFactorSucceeded,
            Kind::SecondFactorFailed,
            Kind::RecoveryCodeUsed,
            Kind::TwoFactorEnrolled,
            Kind::TwoFactorRemoved,
            Kind::RecoveryCodesRegenerated,
            Kind::ClientAuthThrottled,
            Kind::ConsentGranted,
            Kind::ConsentDenied,
            Kind::TokenIssued,
            Kind::TokenRevoked,
            Kind::ClientCreated,
            Kind::ClientDeleted,
            Kind::ClientUpdated,
            Kind::ClientSecretRotated,
            Kind::SessionEnded,
            Kind::UserCreated,
            Kind::UserDeleted,
            Kind::UserPasswordChanged,
            Kind::KeyRotated,
            Kind::KeyRemoved,
            Kind::PasskeyRegistered,
            Kind::PasskeyRenamed,
            Kind::PasskeyRemoved,
            Kind::PasskeyRejected,
            Kind::PasskeyCounterRegressed,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), all.len());
        assert!(names.iter().all(|n| n.contains('.')));
    }
}
