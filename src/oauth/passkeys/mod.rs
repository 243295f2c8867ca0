//! Passkeys (WebAuthn Level 3) on top of webauthn-rs: the relying party built from the
//! issuer, ceremonies whose server half is stored through `ports::PasskeyRepository` (used
//! once, on any node, found by a random id the browser holds in a cookie), registration, and
//! the assertion check that signs a person in or confirms them as a second factor.
//!
//! No HTTP here: `web/` passes the cookie value and the browser's JSON in and maps
//! `PasskeyError` to a page or a JSON error.
mod assertion;
mod registration;
mod second_factor;
mod sign_in;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

use super::error::{OAuthError, OAuthResult};
use super::model::PasskeyCeremony;
use super::ports::PasskeyRepository;
use super::{Provider, now};
use crate::config::Settings;
use crate::crypto::random_token;

pub use assertion::PasskeyAssertion;
pub use sign_in::PasskeyLogin;

/// Longest passkey name, in characters.
pub const MAX_NAME: usize = 64;

/// The relying party: one per server, from the issuer (`Settings::passkey_relying_party`).
pub struct RelyingParty {
    webauthn: Webauthn,
    ceremony_ttl: i64,
    store: Arc<dyn PasskeyRepository>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// The relying party for these settings: `None` when passkeys are off. With
    /// `passkeys.enabled` unset and an issuer that cannot be a relying party id, passkeys are
    /// off and a warning says why; with `passkeys.enabled = true` that is an error.
    pub fn from_settings(
        settings: &Settings,
        store: Arc<dyn PasskeyRepository>,
    ) -> anyhow::Result<Option<Self>> {
        if settings.passkeys.enabled == Some(false) {
            return Ok(None);
        }
        let (rp_id, origin) = match settings.passkey_relying_party() {
            Ok(rp) => rp,
            Err(why) if settings.passkeys.enabled == Some(true) => anyhow::bail!(
                "passkeys.enabled is true, but the issuer {} cannot be a WebAuthn relying party: {why}",
                settings.issuer_str()
            ),
            Err(why) => {
                tracing::warn!(
                    issuer = %settings.issuer_str(),
                    "passkeys are off: the issuer cannot be a WebAuthn relying party ({why})"
                );
                return Ok(None);
            }
        };
        let webauthn = build(&rp_id, &origin, &settings.branding.product_name)?;
        Ok(Some(Self {
            webauthn,
            ceremony_ttl: i64::try_from(settings.passkeys.ceremony_ttl).unwrap_or(300),
            store,
        }))
    }
}

fn build(rp_id: &str, origin: &Url, name: &str) -> anyhow::Result<Webauthn> {
    WebauthnBuilder::new(rp_id, origin)
        .and_then(|b| b.rp_name(name).build())
        .map_err(|e| anyhow::anyhow!("cannot set up WebAuthn for {rp_id} at {origin}: {e}"))
}

/// What a refused passkey operation comes to. Everything but `Internal` is the browser's
/// or the person's doing and is shown as `invalid_request`.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are not enabled on this server")]
    Disabled,
    /// Unknown, expired, already used, of another kind, or for another user.
    #[error("the passkey request has expired, was used already, or was not made in this browser")]
    CeremonyNotFound,
    #[error("the passkey response is not a WebAuthn credential in JSON")]
    Malformed,
    /// Challenge, origin, relying party id hash, signature, flags: `webauthn-rs` says which.
    #[error("the passkey response does not verify: {0}")]
    Rejected(String),
    #[error("this passkey is not registered here")]
    UnknownCredential,
    /// WebAuthn Level 3 section 7.2 step 22: a counter that does not grow may mean a cloned
    /// authenticator.
    #[error("the passkey's signature counter went backwards")]
    CounterRegressed,
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    #[error("a passkey name must have 1 to {MAX_NAME} characters")]
    InvalidName,
    #[error("there is no such passkey")]
    NotFound,
    /// The pending sign-in a passkey was to confirm cannot be used (expired, sealed for
    /// another browser, or its person is gone).
    #[error("this sign-in has expired or was started in another browser; start again")]
    SignInExpired,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<PasskeyError> for OAuthError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Internal(e) => OAuthError::Internal(e),
            other => OAuthError::invalid_request(other.to_string()),
        }
    }
}

/// The server's half of a ceremony, as stored (webauthn-rs state serialisation).
#[derive(Serialize, Deserialize)]
enum CeremonyState {
    Register {
        user_handle: Uuid,
        state: PasskeyRegistration,
    },
    /// A sign-in with a discoverable credential: no user known beforehand.
    SignIn(DiscoverableAuthentication),
    /// A known user confirms with one of their passkeys (second factor).
    Confirm(PasskeyAuthentication),
}

impl CeremonyState {
    fn kind(&self) -> &'static str {
        match self {
            CeremonyState::Register { .. } => "register",
            CeremonyState::SignIn(_) => "sign_in",
            CeremonyState::Confirm(_) => "confirm",
        }
    }
}

/// A ceremony begun: the options for `navigator.credentials.create/get` (JSON, with a
/// `publicKey` member) and the id to keep in the browser's cookie.
#[derive(Debug)]
pub struct Begun {
    pub options: serde_json::Value,
    pub ceremony: String,
}

impl Provider {
    /// The relying party, or `Disabled`.
    pub(crate) fn relying_party(&self) -> Result<&RelyingParty, PasskeyError> {
        self.passkeys.as_ref().ok_or(PasskeyError::Disabled)
    }

    /// Whether the pages offer passkeys.
    pub fn passkeys_enabled(&self) -> bool {
        self.passkeys.is_some()
    }

    async fn store_ceremony(
        &self,
        state: &CeremonyState,
        user_id: Option<&str>,
        options: serde_json::Value,
    ) -> Result<Begun, PasskeyError> {
        let rp = self.relying_party()?;
        let ceremony = random_token();
        let t = now();
        let record = PasskeyCeremony {
            id_hash: self.hasher.hash(&format!("passkey-ceremony\n{ceremony}")),
            kind: state.kind().to_owned(),
            user_id: user_id.map(str::to_owned),
            state: serde_json::to_string(state)
                .map_err(|e| anyhow::anyhow!("failed to serialise a ceremony: {e}"))?,
            created_at: t,
            expires_at: t + rp.ceremony_ttl,
        };
        rp.store.create_passkey_ceremony(&record).await?;
        Ok(Begun { options, ceremony })
    }

    /// The ceremony named by the browser's cookie, used up. `CeremonyNotFound` for an
    /// unknown, expired or used one, or one for another user than `user_id`.
    async fn take_ceremony(
        &self,
        ceremony: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<CeremonyState, PasskeyError> {
        let rp = self.relying_party()?;
        let ceremony = ceremony
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or(PasskeyError::CeremonyNotFound)?;
        let id_hash = self.hasher.hash(&format!("passkey-ceremony\n{ceremony}"));
        let record = rp
            .store
            .take_passkey_ceremony(&id_hash, now())
            .await?
            .ok_or(PasskeyError::CeremonyNotFound)?;
        if record.user_id.as_deref() != user_id {
            return Err(PasskeyError::CeremonyNotFound);
        }
        let state: CeremonyState = serde_json::from_str(&record.state)
            .map_err(|e| anyhow::anyhow!("a stored passkey ceremony does not parse: {e}"))?;
        if state.kind() != record.kind {
            return Err(PasskeyError::CeremonyNotFound);
        }
        Ok(state)
    }

    /// Whether `user_id` can confirm a sign-in with a passkey: passkeys are on and they
    /// have at least one.
    pub async fn has_passkeys(&self, user_id: &str) -> OAuthResult<bool> {
        match &self.passkeys {
            Some(rp) => Ok(!rp.store.list_passkeys(user_id).await?.is_empty()),
            None => Ok(false),
        }
    }

    /// The user's passkeys, oldest first.
    pub async fn list_passkeys(
        &self,
        user_id: &str,
    ) -> Result<Vec<super::model::StoredPasskey>, PasskeyError> {
        Ok(self.relying_party()?.store.list_passkeys(user_id).await?)
    }
}

/// A passkey name as given: trimmed, 1 to `MAX_NAME` characters, no control characters.
pub fn parse_name(name: &str) -> Result<String, PasskeyError> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME || name.chars().any(char::is_control) {
        return Err(PasskeyError::InvalidName);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Laptop ").unwrap(), "Laptop");
        assert!(matches!(parse_name("   "), Err(PasskeyError::InvalidName)));
        assert!(matches!(
            parse_name(&"é".repeat(MAX_NAME + 1)),
            Err(PasskeyError::InvalidName)
        ));
        assert!(parse_name(&"é".repeat(MAX_NAME)).is_ok());
        assert!(matches!(parse_name("a\nb"), Err(PasskeyError::InvalidName)));
    }
}
