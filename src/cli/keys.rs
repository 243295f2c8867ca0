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
    /// Generate new signing keys and retire the current ones. Running servers switch to the
    /// new keys on their next reload (keys.reload_interval).
    Rotate,
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
                    let status = match k.retired_at {
                        None => "active".to_owned(),
                        Some(at) => format!(
                            "retired {}, unpublished after {}",
                            time(at),
                            time(at.saturating_add(retention))
                        ),
                    };
                    vec![k.kid.clone(), k.alg.to_string(), time(k.created_at), status]
                })
                .collect();
            table(&["KID", "ALG", "CREATED", "STATUS"], &rows);
            Ok(())
        }
        KeysCommand::Rotate => {
            let new = crate::keys::rotate_keys(store, &master, retention).await?;
            for k in &new {
                out!("new signing key {} ({})", k.kid, k.alg);
            }
            out!(
                "running servers switch to the new keys within {} s (keys.reload_interval)",
                settings.keys.reload_interval
            );
            Ok(())
        }
    }
}
