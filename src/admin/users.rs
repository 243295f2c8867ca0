//! End-user accounts managed by an operator. Passwords are hashed with argon2id before they
//! reach the store; the plain password is never stored or logged.
use super::{AdminError, validate_display_name};
use crate::audit;
use crate::crypto::PasswordHasher;
use crate::oauth::model::User;
use crate::oauth::ports::UserRepository;
use crate::store::{Store, StoreError, UserRecord};

pub const MAX_USERNAME_LEN: usize = 64;
pub const MIN_PASSWORD_LEN: usize = crate::domain::NewPassword::MIN_CHARS;
/// Long enough for any passphrase, short enough that hashing cannot be abused.
pub const MAX_PASSWORD_LEN: usize = crate::domain::NewPassword::MAX_CHARS;

/// An operator's request to create a user, as typed.
#[derive(Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    /// Whether the operator vouches for the email address (the `email_verified` claim).
    pub email_verified: bool,
    pub name: Option<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("name", &self.name)
            .finish()
    }
}

/// 1 to 64 characters of `A-Z a-z 0-9 . _ @ -`.
pub fn validate_username(s: &str) -> Result<(), AdminError> {
    if s.is_empty() || s.chars().count() > MAX_USERNAME_LEN {
        return Err(AdminError::Invalid(format!(
            "username must be 1 to {MAX_USERNAME_LEN} characters"
        )));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
    {
        return Err(AdminError::invalid(
            "username may contain only letters, digits and . _ @ -",
        ));
    }
    Ok(())
}

/// 8 to 1024 characters (NIST SP 800-63B section 5.1.1.2: no composition rules).
pub fn validate_password(s: &str) -> Result<(), AdminError> {
    crate::domain::NewPassword::parse(s)
        .map(drop)
        .map_err(|e| AdminError::Invalid(e.0))
}

/// A loose check (`domain::EmailAddress`): something on both sides of one '@', no
/// whitespace or control characters, at most 254 characters.
pub fn validate_email(s: &str) -> Result<(), AdminError> {
    crate::domain::EmailAddress::parse(s)
        .map(drop)
        .map_err(|e| AdminError::Invalid(e.0))
}

/// Validates and creates a user with a fresh random id (the OIDC `sub`), hashing the
/// password with argon2id at the OWASP parameters.
pub async fn create(store: &Store, new: NewUser) -> Result<User, AdminError> {
    create_with(store, new, &PasswordHasher::default()).await
}

/// `create` with a chosen password hasher (tests use cheap parameters).
pub async fn create_with(
    store: &Store,
    new: NewUser,
    hasher: &PasswordHasher,
) -> Result<User, AdminError> {
    validate_username(&new.username)?;
    validate_password(&new.password)?;
    if let Some(e) = &new.email {
        validate_email(e)?;
    }
    if new.email_verified && new.email.is_none() {
        return Err(AdminError::invalid("--email-verified needs --email"));
    }
    let name = new
        .name
        .as_deref()
        .map(|n| validate_display_name("name", n))
        .transpose()?;
    let password_hash = hasher.hash(&new.password)?;
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: new.username,
        password_hash,
        email: new.email,
        email_verified: new.email_verified,
        name,
    };
    match store.insert_user(&user, crate::store::unix_now()).await {
        Ok(()) => {
            audit::Event::new(audit::Kind::UserCreated)
                .user(&user.id)
                .username(&user.username)
                .actor(audit::ACTOR_CLI)
                .emit();
            Ok(user)
        }
        Err(StoreError::Duplicate) => Err(AdminError::Duplicate(format!(
            "user {} already exists",
            user.username
        ))),
        Err(StoreError::Other(e)) => Err(AdminError::Internal(e)),
    }
}

pub async fn list(store: &Store) -> Result<Vec<UserRecord>, AdminError> {
    Ok(store.list_users().await?)
}

/// Deletes the user with its sessions, consents, grants and the tokens issued under them.
/// The sessions end through the logout outbox, as with `set_password`: a running server
/// sends their back-channel logouts.
pub async fn delete(store: &Store, username: &str) -> Result<(), AdminError> {
    if store.delete_user(username).await? {
        audit::Event::new(audit::Kind::UserDeleted)
            .username(username)
            .actor(audit::ACTOR_CLI)
            .emit();
        Ok(())
    } else {
        Err(AdminError::NotFound(format!(
            "user {username} does not exist"
        )))
    }
}

pub async fn set_password(store: &Store, username: &str, password: &str) -> Result<(), AdminError> {
    set_password_with(store, username, password, &PasswordHasher::default()).await
}

pub async fn set_password_with(
    store: &Store,
    username: &str,
    password: &str,
    hasher: &PasswordHasher,
) -> Result<(), AdminError> {
    validate_password(password)?;
    if store.find_user_by_username(username).await?.is_none() {
        return Err(AdminError::NotFound(format!(
            "user {username} does not exist"
        )));
    }
    let hash = hasher.hash(password)?;
    if store.set_user_password_hash(username, &hash).await? {
        audit::Event::new(audit::Kind::UserPasswordChanged)
            .username(username)
            .actor(audit::ACTOR_CLI)
            .emit();
        Ok(())
    } else {
        Err(AdminError::NotFound(format!(
            "user {username} does not exist"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::sqlite_store;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(1024, 1, 1)
    }

    fn alice() -> NewUser {
        NewUser {
            username: "alice".into(),
            password: "correct horse battery".into(),
            email: Some("alice@example.com".into()),
            ..NewUser::default()
        }
    }

    #[test]
    fn username_rules() {
        for ok in ["a", "alice.b_c-d@x", &"z".repeat(64)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "al ice", "alice!", "ålice", &"z".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn password_and_email_rules() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
        assert!(validate_email("a@b").is_ok());
        for bad in ["ab", "@b", "a@", "a b@c", "a@b c"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn create_hashes_the_password_and_rejects_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let user = create_with(&store, alice(), &cheap()).await.unwrap();
        assert!(uuid::Uuid::parse_str(&user.id).is_ok());

        let stored = store.find_user_by_username("alice").await.unwrap().unwrap();
        assert_eq!(stored.id, user.id);
        assert!(stored.password_hash.starts_with("$argon2id$"));
        assert!(cheap().verify("correct horse battery", Some(&stored.password_hash)));

        match create_with(&store, alice(), &cheap()).await {
            Err(AdminError::Duplicate(msg)) => assert_eq!(msg, "user alice already exists"),
            other => panic!("expected Duplicate, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn invalid_input_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut n = alice();
        n.email = Some("not an email".into());
        assert!(matches!(
            create_with(&store, n, &cheap()).await,
            Err(AdminError::Invalid(_))
        ));
        assert!(store.list_users().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn set_password_replaces_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        create_with(&store, alice(), &cheap()).await.unwrap();
        set_password_with(&store, "alice", "a brand new one", &cheap())
            .await
            .unwrap();
        let hash = store
            .find_user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .password_hash;
        assert!(cheap().verify("a brand new one", Some(&hash)));
        assert!(!cheap().verify("correct horse battery", Some(&hash)));
        assert!(matches!(
            set_password_with(&store, "bob", "whatever123", &cheap()).await,
            Err(AdminError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn delete_removes_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        create_with(&store, alice(), &cheap()).await.unwrap();
        delete(&store, "alice").await.unwrap();
        assert!(
            store
                .find_user_by_username("alice")
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            delete(&store, "alice").await,
            Err(AdminError::NotFound(_))
        ));
    }
}
