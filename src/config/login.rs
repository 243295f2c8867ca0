//! `[login]` and `[client_auth]`: the guessing throttles (and whether sign-ins need two
//! factors).
use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::Settings;

/// `[login]`: the throttle of sign-ins (passwords and second-factor codes alike) and the
/// two-factor policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LoginSettings {
    /// Every sign-in needs a second factor; people without one enrol during sign-in.
    #[serde(default)]
    pub require_two_factor: bool,
    /// The throttle fields sit directly in `[login]` (`max_failures`, ...); unknown keys
    /// are refused there.
    #[serde(flatten)]
    pub throttle: ThrottleSettings,
}

/// `[login]` is read where a `ThrottleSettings` is expected (the throttle's verdict), as
/// the throttle fields are its own.
impl std::ops::Deref for LoginSettings {
    type Target = ThrottleSettings;
    fn deref(&self) -> &ThrottleSettings {
        &self.throttle
    }
}

impl std::ops::DerefMut for LoginSettings {
    fn deref_mut(&mut self) -> &mut ThrottleSettings {
        &mut self.throttle
    }
}

/// Guessing protection (see `oauth::throttle`), counted in the database so all nodes agree.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Failures from one source address for one account (or client) within `failure_window`
    /// after which that address is locked out of it until `failure_window` has passed since
    /// the last failure.
    pub max_failures: u64,
    /// Seconds; at most one day (failures are kept that long).
    pub failure_window: u64,
    /// Failures from one address before attempts are spaced by growing delays (1 s, 2 s,
    /// 4 s, ...).
    pub delay_after: u64,
    /// Longest delay between two attempts, seconds.
    pub max_delay: u64,
    /// Failures for one account (or client) from all addresses together after which every
    /// address that has failed at least once is locked out; addresses without failures are
    /// still let through, so an attack cannot lock the real owner out.
    pub max_failures_all_addresses: u64,
}

impl Settings {
    /// `[login]` and `[client_auth]` alike.
    pub(super) fn validate_throttles(&self) -> anyhow::Result<()> {
        for (name, t) in [
            ("login", &self.login.throttle),
            ("client_auth", &self.client_auth),
        ] {
            if t.failure_window == 0 || t.failure_window > 24 * 3600 {
                bail!("{name}.failure_window must be between 1 and 86400 seconds");
            }
            if t.max_failures == 0 || t.max_failures_all_addresses == 0 {
                bail!("{name}.max_failures and max_failures_all_addresses must be positive");
            }
        }
        Ok(())
    }
}
