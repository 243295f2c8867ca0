//! View models of the two-step verification pages (templates `second_factor.html`,
//! `two_factor_enrol.html`, `recovery_codes.html`, `account_two_factor.html`).
use askama::Template;

use crate::web::ui::Chrome;

/// The second step of a sign-in: a code from the authenticator app or a recovery code,
/// and/or one of the person's passkeys.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub client_name: Option<String>,
    pub error: Option<String>,
    pub csrf_token: String,
    /// The sealed pending sign-in, posted back unchanged.
    pub pending: String,
    /// Offer the code form (the person has an authenticator).
    pub code: bool,
    /// Offer "Use a passkey" (the person has one; the page loads static/passkeys.js).
    pub passkey: bool,
}

/// Setting up an authenticator: the QR code, the key as text, the first code.
#[derive(Template)]
#[template(path = "two_factor_enrol.html")]
pub struct EnrolView<'a> {
    pub chrome: &'a Chrome<'a>,
    /// During a sign-in that requires two factors: say why this page appears.
    pub required: bool,
    pub error: Option<String>,
    /// Inline SVG from `web::qr` (numbers only; inserted unescaped).
    pub qr_svg: String,
    /// The key in base32, grouped by four.
    pub secret_text: String,
    pub action: &'static str,
    pub csrf_token: String,
    pub pending: Option<String>,
}

/// The recovery codes, shown once, with the button that goes on.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub codes: Vec<String>,
    pub action: &'static str,
    pub csrf_token: String,
    pub pending: Option<String>,
}

/// `/account/two-factor` with an authenticator set up.
#[derive(Template)]
#[template(path = "account_two_factor.html")]
pub struct AccountTwoFactorView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub recovery_codes_left: u64,
    pub error: Option<String>,
    pub csrf_token: String,
}
