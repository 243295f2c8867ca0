//! A client's secret: what an operator may choose, and its rotation.
use super::get;
use crate::admin::AdminError;
use crate::audit;
use crate::crypto::random_token;
use crate::domain::AuthMethod;
use crate::store::Store;

/// Shortest client secret an operator may choose; generated ones have 256 bits.
pub const MIN_SECRET_LEN: usize = 16;
pub const MAX_SECRET_LEN: usize = 512;

pub(super) fn validate_secret(s: &str) -> Result<(), AdminError> {
    let len = s.chars().count();
    if len < MIN_SECRET_LEN {
        return Err(AdminError::Invalid(format!(
            "client secret must be at least {MIN_SECRET_LEN} characters (or omit --secret to have one generated)"
        )));
    }
    if len > MAX_SECRET_LEN {
        return Err(AdminError::Invalid(format!(
            "client secret must be at most {MAX_SECRET_LEN} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "client secret must not contain control characters",
        ));
    }
    Ok(())
}

/// Replaces the client's secret with a new generated one and returns it; the old secret
/// stops working at once. Refused for clients that have no secret.
pub async fn rotate_secret(store: &Store, id: &str) -> Result<String, AdminError> {
    let client = get(store, id).await?;
    match client.auth_method {
        AuthMethod::None => {
            return Err(AdminError::Invalid(format!(
                "client {} is a public client and has no secret to rotate",
                client.id
            )));
        }
        AuthMethod::PrivateKeyJwt => {
            return Err(AdminError::Invalid(format!(
                "client {} authenticates with private_key_jwt and has no secret to rotate; publish new keys at its JWKS instead",
                client.id
            )));
        }
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {}
    }
    let secret = random_token();
    let hash = store.secret_hasher().hash(&secret);
    if store.set_client_secret_hash(&client.id, &hash).await? {
        audit::Event::new(audit::Kind::ClientSecretRotated)
            .client(client.id.as_str())
            .actor(audit::ACTOR_CLI)
            .emit();
        Ok(secret)
    } else {
        Err(AdminError::NotFound(format!(
            "client {} does not exist",
            client.id
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::super::create;
    use super::super::tests::web;
    use super::*;
    use crate::store::test_support::sqlite_store;

    #[tokio::test]
    async fn rotate_secret_invalidates_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let old = create(&store, web())
            .await
            .unwrap()
            .generated_secret
            .unwrap();
        let new = rotate_secret(&store, "web").await.unwrap();
        let hash = get(&store, "web").await.unwrap().secret_hash.unwrap();
        assert!(store.secret_hasher().verify(&new, &hash));
        assert!(!store.secret_hasher().verify(&old, &hash));

        let mut public = web();
        public.id = "spa".into();
        public.public = true;
        create(&store, public).await.unwrap();
        assert!(matches!(
            rotate_secret(&store, "spa").await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            rotate_secret(&store, "nope").await,
            Err(AdminError::NotFound(_))
        ));
    }
}
