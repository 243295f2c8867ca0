//! `[log]`: the tracing filter and the line format.
use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::Settings;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing_subscriber` filter directive, e.g. `info,latchkey=debug`.
    pub filter: String,
    /// `text` or `json`.
    pub format: String,
}

impl Settings {
    pub(super) fn validate_log(&self) -> anyhow::Result<()> {
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format must be text or json");
        }
        Ok(())
    }
}
