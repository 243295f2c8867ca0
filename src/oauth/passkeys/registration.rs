//! Registering a passkey from the account page (WebAuthn Level 3 section 7.1), and renaming
//! and removing one.
use std::net::IpAddr;

use webauthn_rs::prelude::{CredentialID, Passkey, RegisterPublicKeyCredential, Uuid};

use super::{Begun, CeremonyState, PasskeyError, parse_name};
use crate::audit;
use crate::crypto::{b64url, b64url_decode, random_token};
use crate::oauth::model::{StoredPasskey, User};
use crate::oauth::{Provider, now};

impl Provider {
    /// Options to create a passkey for `user`, and the ceremony id for the browser's cookie.
    ///
    /// User verification is required (webauthn-rs passkeys always require it): a passkey
    /// signs in without a password, so the authenticator itself must check that its owner is
    /// present (PIN or biometric), which also makes every passkey sign-in two factors. The
    /// credential must be discoverable (resident), so that signing in needs no username.
    /// The user's registered credentials are excluded, so an authenticator is not
    /// registered twice.
    pub async fn begin_passkey_registration(&self, user: &User) -> Result<Begun, PasskeyError> {
        let rp = self.relying_party()?;
        let existing = rp.store.list_passkeys(&user.id).await?;
        // One random user handle per person (WebAuthn section 14.6.1: no personal data),
        // shared by their passkeys, so an authenticator replaces rather than piles up
        // credentials for the same account.
        let user_handle = existing
            .iter()
            .find_map(|p| Uuid::parse_str(&p.user_handle).ok())
            .unwrap_or_else(Uuid::new_v4);
        let exclude: Vec<CredentialID> = existing
            .iter()
            .filter_map(|p| b64url_decode(&p.credential_id))
            .collect();
        let display = user.name.as_deref().unwrap_or(&user.username);
        let (options, state) = rp
            .webauthn
            .start_passkey_registration(user_handle, &user.username, display, Some(exclude))
            .map_err(|e| anyhow::anyhow!("failed to start a passkey registration: {e}"))?;
        let mut options = serde_json::to_value(&options)
            .map_err(|e| anyhow::anyhow!("failed to serialise passkey options: {e}"))?;
        // WebAuthn section 5.4.6: ask for a discoverable credential outright (webauthn-rs
        // discourages one for passkeys; the server half does not depend on it).
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
        let state = CeremonyState::Register { user_handle, state };
        self.store_ceremony(&state, Some(&user.id), options).await
    }

    /// Checks the browser's answer to `begin_passkey_registration` (challenge, origin, relying
    /// party id hash, user verification, attestation format) and stores the passkey.
    pub async fn finish_passkey_registration(
        &self,
        user: &User,
        ceremony: Option<&str>,
        response: &str,
        name: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<StoredPasskey, PasskeyError> {
        let name = parse_name(name)?;
        let rp = self.relying_party()?;
        let rejected = |reason: &str| {
            audit::Event::new(audit::Kind::PasskeyRejected)
                .user(&user.id)
                .from(source_ip)
                .reason(reason)
                .emit();
        };
        let state = match self.take_ceremony(ceremony, Some(&user.id)).await {
            Ok(s) => s,
            Err(e) => {
                rejected("registration: no such ceremony");
                return Err(e);
            }
        };
        let CeremonyState::Register { user_handle, state } = state else {
            rejected("registration: ceremony of another kind");
            return Err(PasskeyError::CeremonyNotFound);
        };
        let Ok(credential) = serde_json::from_str::<RegisterPublicKeyCredential>(response) else {
            rejected("registration: malformed response");
            return Err(PasskeyError::Malformed);
        };
        let passkey: Passkey = match rp.webauthn.finish_passkey_registration(&credential, &state) {
            Ok(p) => p,
            Err(e) => {
                let reason = e.to_string();
                rejected(&format!("registration: {reason}"));
                return Err(PasskeyError::Rejected(reason));
            }
        };
        let stored = StoredPasskey {
            id: random_token(),
            user_id: user.id.clone(),
            credential_id: b64url(passkey.cred_id().as_ref()),
            user_handle: user_handle.to_string(),
            credential: serde_json::to_string(&passkey)
                .map_err(|e| anyhow::anyhow!("failed to serialise a passkey: {e}"))?,
            name,
            created_at: now(),
            last_used_at: None,
        };
        if !rp.store.create_passkey(&stored).await? {
            rejected("registration: credential registered already");
            return Err(PasskeyError::AlreadyRegistered);
        }
        audit::Event::new(audit::Kind::PasskeyRegistered)
            .user(&user.id)
            .from(source_ip)
            .emit();
        Ok(stored)
    }

    /// Renames one of the user's passkeys.
    pub async fn rename_passkey(
        &self,
        user: &User,
        id: &str,
        name: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<(), PasskeyError> {
        let name = parse_name(name)?;
        if !self
            .relying_party()?
            .store
            .rename_passkey(&user.id, id, &name)
            .await?
        {
            return Err(PasskeyError::NotFound);
        }
        audit::Event::new(audit::Kind::PasskeyRenamed)
            .user(&user.id)
            .from(source_ip)
            .emit();
        Ok(())
    }

    /// Removes one of the user's passkeys; it cannot sign in from now on.
    pub async fn remove_passkey(
        &self,
        user: &User,
        id: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<(), PasskeyError> {
        if !self
            .relying_party()?
            .store
            .delete_passkey(&user.id, id)
            .await?
        {
            return Err(PasskeyError::NotFound);
        }
        audit::Event::new(audit::Kind::PasskeyRemoved)
            .user(&user.id)
            .from(source_ip)
            .emit();
        Ok(())
    }
}
