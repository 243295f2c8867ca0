//! `latchkey keys ...`
use std::sync::Arc;

use clap::Subcommand;

use super::output::{table, time};
use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::keys::KeyRing;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state (next: published, not signing yet; active:
    /// signing; retired: published until the tokens it signed have expired) and dates.
    /// Like a server start, this creates the first keys when there are none, and fails if
    /// the stored keys cannot be decrypted with this master key.
    List,
    /// Generate new signing keys. They are published at once and sign after the
    /// pre-publication time (keys.rotation_delay, at least one JWKS cache lifetime), when
    /// the current keys retire; retired keys stay published until the tokens they signed
    /// have expired. Servers also rotate by themselves every keys.rotation_period.
    Rotate {
        /// Switch at once but keep the old keys published: tokens signed with the new keys
        /// may be refused until verifiers refresh their cached JWKS.
        #[arg(long, conflicts_with = "emergency")]
        now: bool,
        /// After a key compromise: sign with new keys at once and withdraw every old key
        /// from the JWKS. This BREAKS every outstanding token: access and ID tokens signed
        /// with the old keys no longer verify (refresh tokens keep working).
        #[arg(long)]
        emergency: bool,
    },
}

pub async fn run(
    cmd: KeysCommand,
    store: &Store,
    settings: &Settings,
    master: MasterKey,
) -> anyhow::Result<()> {
    let policy = settings.rotation_policy();
    let retention = policy.retention;
    match cmd {
        KeysCommand::List => {
            let ring = KeyRing::load(Arc::new(store.clone()), master, retention).await?;
            let mut keys = ring.list();
            keys.sort_by_key(|k| (k.created_at, k.alg));
            let now = crate::oauth::now();
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    let (state, until) = state(k, now, retention);
                    vec![
                        k.kid.clone(),
                        k.alg.to_string(),
                        state.to_owned(),
                        time(k.created_at),
                        time(k.activates_at),
                        until,
                    ]
                })
                .collect();
            table(
                &["KID", "ALG", "STATE", "CREATED", "SIGNS FROM", "UNTIL"],
                &rows,
            );
            Ok(())
        }
        KeysCommand::Rotate {
            emergency: true, ..
        } => {
            let new = crate::keys::emergency_rotate_keys(store, &master).await?;
            for k in &new {
                out!("new signing key {} ({}), signs now", k.kid, k.alg);
            }
            out!(
                "every other key was withdrawn: tokens they signed no longer verify; running servers switch within {} s (keys.reload_interval)",
                settings.keys.reload_interval
            );
            Ok(())
        }
        KeysCommand::Rotate { now, .. } => {
            let delay = if now { 0 } else { policy.prepublish };
            let new = crate::keys::rotate_keys(store, &master, retention, delay).await?;
            for k in &new {
                out!(
                    "new signing key {} ({}), signs from {}",
                    k.kid,
                    k.alg,
                    time(k.activates_at)
                );
            }
            out!(
                "running servers publish the new keys within {} s (keys.reload_interval)",
                settings.keys.reload_interval
            );
            Ok(())
        }
    }
}

/// What a key is doing at `now`, and until when (signing until its successor takes over,
/// or published until it is removed).
fn state(k: &crate::keys::KeyInfo, now: i64, retention: i64) -> (&'static str, String) {
    if let Some(at) = k.retired_at.filter(|r| *r <= now) {
        (
            "retired",
            format!("published until {}", time(at.saturating_add(retention))),
        )
    } else if k.activates_at > now {
        ("next", String::new())
    } else if let Some(until) = k.retired_at {
        ("active", format!("signs until {}", time(until)))
    } else {
        ("active", String::new())
    }
}
