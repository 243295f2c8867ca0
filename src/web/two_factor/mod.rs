//! Two-step verification pages: the second step of signing in (`sign_in`) and the
//! authenticator settings of the account page (`account`).
mod account;
mod sign_in;
mod views;

pub(super) use account::{
    enrol_post as account_enrol_post, recovery_codes_post, remove_post, two_factor_get,
};
pub(super) use sign_in::{code_post, continue_post, enrol_post, prompt_page};
