//! Checking a passkey assertion (WebAuthn Level 3 section 7.2): to sign in with a
//! discoverable credential (no username first), or to confirm a known user as a second
//! factor after their password.
use std::net::IpAddr;

use webauthn_rs::prelude::{AuthenticationResult, Passkey, PublicKeyCredential, WebauthnError};

use super::{Begun, CeremonyState, PasskeyError};
use crate::audit;
use crate::crypto::b64url;
use crate::oauth::model::{StoredPasskey, User};
use crate::oauth::{Provider, now};

/// A verified passkey assertion.
#[derive(Debug, Clone)]
pub struct PasskeyAssertion {
    pub user: User,
    /// The passkey's id (`StoredPasskey::id`).
    pub passkey_id: String,
    /// The authenticator verified its user (UV flag, PIN or biometric): the assertion is two
    /// factors by itself.
    pub user_verified: bool,
    /// The authenticator says the key cannot leave it (backup eligibility flag clear,
    /// WebAuthn section 6.1.3): a device-bound key, `hwk` in RFC 8176 terms; a syncable one
    /// is `swk`. The flag is signed by the authenticator but, without attestation, is its
    /// own claim.
    pub device_bound: bool,
}

impl Provider {
    /// Options for a sign-in with a discoverable credential (an empty `allowCredentials`:
    /// the browser offers the passkeys it has for this site, also in autofill), and the
    /// ceremony id for the browser's cookie.
    pub async fn begin_passkey_sign_in(&self) -> Result<Begun, PasskeyError> {
        let rp = self.relying_party()?;
        let (options, state) = rp
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| anyhow::anyhow!("failed to start a passkey sign-in: {e}"))?;
        let options = serde_json::to_value(&options)
            .map_err(|e| anyhow::anyhow!("failed to serialise passkey options: {e}"))?;
        self.store_ceremony(&CeremonyState::SignIn(state), None, options)
            .await
    }

    /// Options for `user` to confirm with one of their passkeys (after their password), and
    /// the ceremony id. `NotFound` when they have none.
    pub async fn begin_passkey_confirmation(&self, user: &User) -> Result<Begun, PasskeyError> {
        let rp = self.relying_party()?;
        let passkeys: Vec<Passkey> = rp
            .store
            .list_passkeys(&user.id)
            .await?
            .iter()
            .filter_map(|p| serde_json::from_str(&p.credential).ok())
            .collect();
        if passkeys.is_empty() {
            return Err(PasskeyError::NotFound);
        }
        let (options, state) = rp
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| anyhow::anyhow!("failed to start a passkey confirmation: {e}"))?;
        let options = serde_json::to_value(&options)
            .map_err(|e| anyhow::anyhow!("failed to serialise passkey options: {e}"))?;
        self.store_ceremony(&CeremonyState::Confirm(state), Some(&user.id), options)
            .await
    }

    /// Checks the browser's answer to `begin_passkey_sign_in` (`user` = `None`) or to
    /// `begin_passkey_confirmation` (`user` = the user confirming): the ceremony (used up
    /// here, whatever the outcome), then challenge, origin, relying party id hash, user
    /// presence and verification, signature, that the user handle belongs to the
    /// credential's owner, and the signature counter. Updates the stored counter.
    /// Every refusal is audited.
    pub async fn verify_passkey(
        &self,
        ceremony: Option<&str>,
        response: &str,
        user: Option<&User>,
        client_id: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<PasskeyAssertion, PasskeyError> {
        let result = self
            .check_passkey_assertion(ceremony, response, user.map(|u| u.id.as_str()))
            .await;
        match result {
            Ok((stored, passkey, outcome)) => self.record_use(stored, passkey, outcome, user).await,
            Err((e, owner)) => {
                let kind = match e {
                    PasskeyError::CounterRegressed => audit::Kind::PasskeyCounterRegressed,
                    _ => audit::Kind::PasskeyRejected,
                };
                let reason = e.to_string();
                let mut event = audit::Event::new(kind).from(source_ip).reason(&reason);
                if let Some(c) = client_id {
                    event = event.client(c);
                }
                event.user_opt(owner.as_deref()).emit();
                Err(e)
            }
        }
    }

    /// The verification proper. On failure, also the owner of the credential if it was
    /// found (for the audit record).
    async fn check_passkey_assertion(
        &self,
        ceremony: Option<&str>,
        response: &str,
        user_id: Option<&str>,
    ) -> Result<(StoredPasskey, Passkey, AuthenticationResult), (PasskeyError, Option<String>)>
    {
        let rp = self.relying_party().map_err(|e| (e, None))?;
        let state = self
            .take_ceremony(ceremony, user_id)
            .await
            .map_err(|e| (e, None))?;
        let credential: PublicKeyCredential =
            serde_json::from_str(response).map_err(|_| (PasskeyError::Malformed, None))?;
        let credential_id = b64url(credential.get_credential_id());
        let stored = rp
            .store
            .find_passkey_by_credential_id(&credential_id)
            .await
            .map_err(|e| (e.into(), None))?
            .ok_or((PasskeyError::UnknownCredential, None))?;
        let owner = Some(stored.user_id.clone());
        let fail = |e: PasskeyError| (e, owner.clone());
        let passkey: Passkey = serde_json::from_str(&stored.credential)
            .map_err(|e| fail(anyhow::anyhow!("a stored passkey does not parse: {e}").into()))?;
        let outcome = match state {
            CeremonyState::SignIn(state) => {
                // The user handle the authenticator returns must be the one the credential
                // was registered with (WebAuthn section 7.2 step 6).
                let (handle, _) = rp
                    .webauthn
                    .identify_discoverable_authentication(&credential)
                    .map_err(|e| fail(PasskeyError::Rejected(e.to_string())))?;
                if handle.to_string() != stored.user_handle {
                    return Err(fail(PasskeyError::Rejected(
                        "the user handle does not belong to this credential".into(),
                    )));
                }
                rp.webauthn
                    .finish_discoverable_authentication_v2(&credential, state, &passkey)
            }
            CeremonyState::Confirm(state) => {
                if Some(stored.user_id.as_str()) != user_id {
                    return Err(fail(PasskeyError::UnknownCredential));
                }
                rp.webauthn
                    .finish_passkey_authentication(&credential, &state)
            }
            CeremonyState::Register { .. } => return Err(fail(PasskeyError::CeremonyNotFound)),
        }
        .map_err(|e| match e {
            // WebAuthn Level 3 section 7.2 step 22: an authenticator that counts must count
            // up (webauthn-rs checks it; 0 on both sides means it does not count, as most
            // synced passkeys).
            WebauthnError::CredentialPossibleCompromise => fail(PasskeyError::CounterRegressed),
            e => fail(PasskeyError::Rejected(e.to_string())),
        })?;
        Ok((stored, passkey, outcome))
    }

    async fn record_use(
        &self,
        stored: StoredPasskey,
        mut passkey: Passkey,
        outcome: AuthenticationResult,
        expected: Option<&User>,
    ) -> Result<PasskeyAssertion, PasskeyError> {
        let rp = self.relying_party()?;
        passkey.update_credential(&outcome);
        let serialised = serde_json::to_string(&passkey)
            .map_err(|e| anyhow::anyhow!("failed to serialise a passkey: {e}"))?;
        rp.store
            .record_passkey_use(&stored.id, &serialised, now())
            .await?;
        let user = match expected {
            Some(u) => u.clone(),
            None => match self.users.find_user_by_id(&stored.user_id).await? {
                Some(u) => u,
                None => return Err(PasskeyError::UnknownCredential),
            },
        };
        Ok(PasskeyAssertion {
            user,
            passkey_id: stored.id,
            user_verified: outcome.user_verified(),
            device_bound: !outcome.backup_eligible(),
        })
    }
}
