//! Two-step verification pages: the second step of signing in (`sign_in`; a passkey there,
//! `passkey`) and the authenticator settings of the account page (`account`).
mod account;
mod passkey;
mod sign_in;
mod views;

use axum::http::StatusCode;

use crate::oauth::two_factor::TwoFactorError;
use crate::web::ui::Chrome;

pub(super) use account::{
    enrol_post as account_enrol_post, recovery_codes_post, remove_post, two_factor_get,
};
pub(super) use passkey::{options as passkey_options, submit as passkey_post};
pub(super) use sign_in::{code_post, continue_post, enrol_post, prompt_page};

/// Status, message and `Retry-After` of a refused code or proof: 429 for the throttle (as
/// for passwords), else 200 with `wrong` (the page is shown again).
pub(super) fn refusal(
    chrome: &Chrome,
    error: Option<&TwoFactorError>,
    wrong: &str,
) -> (StatusCode, Option<String>, Option<u64>) {
    let t = chrome.t;
    match error {
        None => (StatusCode::OK, None, None),
        Some(TwoFactorError::Throttled { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(
                t.throttled
                    .replace("{seconds}", &retry_after.max(&1).to_string()),
            ),
            Some(*retry_after),
        ),
        Some(TwoFactorError::Locked { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(
                t.locked
                    .replace("{minutes}", &retry_after.div_ceil(60).max(1).to_string()),
            ),
            Some(*retry_after),
        ),
        Some(_) => (StatusCode::OK, Some(wrong.to_owned()), None),
    }
}
