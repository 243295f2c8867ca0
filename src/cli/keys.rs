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
    /// List signing keys: active ones sign, retired ones stay published until they expire.
    /// Like a server start, this creates the first keys when there are none, and fails if
    /// the stored keys cannot be decrypted with this master key.
    List,
    /// Generate new signing keys. They are published at once and sign from
    /// keys.rotation_delay seconds on, when the current keys retire; retired keys stay
    /// published for keys.retired_key_retention.
    Rotate {
        /// Switch at once (after a key compromise): tokens signed with the new keys may be
        /// refused until verifiers refresh their cached JWKS.
        #[arg(long)]
        now: bool,
    },
}

pub async fn run(
    cmd: KeysCommand,
    store: &Store,
    settings: &Settings,
    master: MasterKey,
) -> anyhow::Result<()> {
    let retention = i64::try_from(settings.keys.retired_key_retention).unwrap_or(i64::MAX);
    match cmd {
        KeysCommand::List => {
            let ring = KeyRing::load(Arc::new(store.clone()), master, retention).await?;
            let mut keys = ring.list();
            keys.sort_by_key(|k| (k.created_at, k.alg));
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    let status = status(k, crate::oauth::now(), retention);
                    vec![k.kid.clone(), k.alg.to_string(), time(k.created_at), status]
                })
                .collect();
            table(&["KID", "ALG", "CREATED", "STATUS"], &rows);
            Ok(())
        }
        KeysCommand::Rotate { now } => {
            let delay = if now {
                0
            } else {
                i64::try_from(settings.keys.rotation_delay).unwrap_or(i64::MAX)
            };
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

/// What a key is doing at `now`.
fn status(k: &crate::keys::KeyInfo, now: i64, retention: i64) -> String {
    let retired = k.retired_at.filter(|r| *r <= now);
    if let Some(at) = retired {
        format!(
            "retired {}, unpublished after {}",
            time(at),
            time(at.saturating_add(retention))
        )
    } else if k.activates_at > now {
        format!("published, signs from {}", time(k.activates_at))
    } else if let Some(until) = k.retired_at {
        format!("active until {}", time(until))
    } else {
        "active".to_owned()
    }
}
