//! Page text from message catalogues (`locales/*.toml`, compiled in) and the choice of
//! language: the authorization request's `ui_locales` first (OpenID Connect Core section
//! 3.1.2.1), then the browser's `Accept-Language` (RFC 9110 section 12.5.4), then English.
//! No HTTP here; `web/` passes the header value in.
use anyhow::Context;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

/// The languages with a catalogue, English first (the fallback).
const CATALOGUES: &[(&str, &str)] = &[
    ("en", include_str!("../../locales/en.toml")),
    ("de", include_str!("../../locales/de.toml")),
];

/// The language tags on offer (`ui_locales_supported` in the discovery document).
pub const LANGUAGES: &[&str] = &["en", "de"];

/// Longest `ui_locales` / `Accept-Language` value looked at, and most entries considered.
const MAX_HEADER: usize = 512;
const MAX_ENTRIES: usize = 16;

/// Every text the pages show. A catalogue without one of these fields (or with an unknown
/// one) fails to load, so a language is complete or not offered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    pub footer_secured_by: String,
    pub footer_advice: String,
    pub sign_in_title: String,
    pub sign_in_continue_before: String,
    pub sign_in_continue_after: String,
    pub username: String,
    pub password: String,
    pub sign_in_button: String,
    pub wrong_credentials: String,
    /// `{seconds}`: how long to wait.
    pub throttled: String,
    /// `{minutes}`: how long the lock lasts.
    pub locked: String,
    pub consent_title: String,
    pub consent_heading_before: String,
    pub consent_heading_after: String,
    pub signed_in_as: String,
    pub consent_adds: String,
    pub consent_allows: String,
    pub allow: String,
    pub deny: String,
    pub consent_fineprint: String,
    pub scope_openid: String,
    pub scope_profile: String,
    pub scope_email: String,
    pub scope_offline_access: String,
    pub scope_other: String,
    pub error_invalid_title: String,
    pub error_invalid_message: String,
    pub error_internal_title: String,
    pub error_internal_message: String,
    pub error_unavailable_title: String,
    pub error_unavailable_message: String,
    pub error_form_expired: String,
    pub error_start_again: String,
    pub error_fineprint: String,
    pub error_details: String,
    pub signed_out_title: String,
    pub signed_out_heading: String,
    pub signed_out_close: String,
    pub sign_out_title: String,
    pub sign_out_heading_before: String,
    pub sign_out_heading_after: String,
    pub not_signed_in: String,
    pub sign_out_button: String,
    pub sign_out_requested_by: String,
    pub sign_out_fineprint: String,
    // Two-step verification.
    pub two_factor_title: String,
    pub second_factor_intro: String,
    pub second_factor_code_label: String,
    pub second_factor_button: String,
    pub second_factor_recovery_hint: String,
    pub second_factor_wrong: String,
    pub second_factor_passkey_intro: String,
    pub second_factor_passkey_button: String,
    pub second_factor_passkey_failed: String,
    pub second_factor_passkey_unsupported: String,
    pub enrol_title: String,
    pub enrol_required: String,
    pub enrol_step_scan: String,
    pub enrol_qr_label: String,
    pub enrol_step_manual: String,
    pub enrol_step_confirm: String,
    pub enrol_button: String,
    pub enrol_wrong: String,
    pub recovery_title: String,
    pub recovery_intro: String,
    pub recovery_continue: String,
    pub method_authenticator: String,
    pub method_authenticator_status: String,
    pub method_authenticator_manage: String,
    pub account_two_factor_on: String,
    pub account_recovery_left: String,
    pub account_recovery_new: String,
    pub account_recovery_new_hint: String,
    pub account_remove_heading: String,
    pub account_remove_proof: String,
    pub account_remove_button: String,
    pub account_remove_wrong: String,
    pub account_back: String,
    pub account_title: String,
    pub profile_heading: String,
    pub profile_name: String,
    pub profile_email: String,
    pub profile_email_verified: String,
    pub profile_email_unverified: String,
    pub profile_save: String,
    pub profile_invalid_name: String,
    pub profile_invalid_email: String,
    pub password_heading: String,
    pub password_current: String,
    pub password_new: String,
    pub password_repeat: String,
    pub password_hint: String,
    pub password_change: String,
    pub password_wrong: String,
    pub password_length: String,
    pub password_mismatch: String,
    pub methods_heading: String,
    pub method_password: String,
    pub method_password_status: String,
    pub apps_heading: String,
    pub apps_none: String,
    /// `{date}`: the day the app was first allowed.
    pub apps_granted: String,
    pub apps_revoke: String,
    pub sessions_heading: String,
    pub sessions_this: String,
    pub sessions_unknown_device: String,
    pub sessions_unknown_address: String,
    pub sessions_signed_in: String,
    pub sessions_last_seen: String,
    pub sessions_from: String,
    pub sessions_how: String,
    pub sessions_sign_out: String,
    pub sessions_sign_out_everywhere: String,
    pub amr_pwd: String,
    pub amr_otp: String,
    pub amr_key: String,
    pub amr_mfa: String,
    pub notice_profile_saved: String,
    pub notice_password_changed: String,
    pub notice_app_revoked: String,
    pub notice_session_ended: String,
    // Passkeys: login page and /account/passkeys.
    pub passkey_sign_in_button: String,
    pub passkey_or: String,
    pub passkey_waiting: String,
    pub passkey_error_cancelled: String,
    pub passkey_error_failed: String,
    pub passkey_error_exists: String,
    pub passkey_sign_in_failed: String,
    pub passkey_sign_in_expired: String,
    pub passkeys_title: String,
    pub passkeys_intro: String,
    pub passkeys_none: String,
    pub passkeys_added_on: String,
    pub passkeys_last_used: String,
    pub passkeys_never_used: String,
    pub passkeys_name_label: String,
    pub passkeys_rename_button: String,
    pub passkeys_remove_button: String,
    pub passkeys_add_heading: String,
    pub passkeys_name_placeholder: String,
    pub passkeys_add_button: String,
    pub passkeys_unsupported: String,
    pub passkeys_registered: String,
    pub passkeys_renamed: String,
    pub passkeys_removed: String,
    pub passkeys_register_failed: String,
    pub passkeys_register_expired: String,
    pub passkeys_name_invalid: String,
    pub passkeys_not_found: String,
    pub passkeys_back: String,
    /// `{count}`: how many passkeys.
    pub method_passkeys_status: String,
    pub method_passkeys_manage: String,
}

impl Messages {
    /// Plain-words description of a scope for the consent page.
    pub fn describe_scope(&self, name: &str) -> String {
        match name {
            "openid" => self.scope_openid.clone(),
            "profile" => self.scope_profile.clone(),
            "email" => self.scope_email.clone(),
            "offline_access" => self.scope_offline_access.clone(),
            other => format!("{} \"{other}\"", self.scope_other),
        }
    }
}

/// One loaded language.
#[derive(Debug)]
pub struct Catalogue {
    /// The language tag written into `<html lang>`.
    pub lang: &'static str,
    pub messages: Messages,
}

/// All catalogues, loaded once at start-up.
#[derive(Debug)]
pub struct Catalogues(Vec<Catalogue>);

impl Catalogues {
    pub fn load() -> anyhow::Result<Self> {
        CATALOGUES
            .iter()
            .map(|(lang, text)| {
                let messages = Figment::from(Toml::string(text))
                    .extract::<Messages>()
                    .with_context(|| format!("message catalogue locales/{lang}.toml is invalid"))?;
                Ok(Catalogue { lang, messages })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Self)
    }

    /// The tags on offer, fallback first.
    pub fn languages(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.lang).collect()
    }

    /// The catalogue for a request: the first supported `ui_locales` entry, else the best
    /// `Accept-Language` entry, else English.
    pub fn choose(&self, ui_locales: Option<&str>, accept_language: Option<&str>) -> &Catalogue {
        ui_locales
            .and_then(|v| self.first_supported(ui_locales_tags(v)))
            .or_else(|| accept_language.and_then(|v| self.first_supported(accept_language_tags(v))))
            .unwrap_or(&self.0[0])
    }

    fn first_supported<'a>(&self, tags: impl Iterator<Item = &'a str>) -> Option<&Catalogue> {
        tags.filter_map(|tag| {
            // `de-CH` is served by `de`; `*` by the fallback.
            if tag == "*" {
                return Some(&self.0[0]);
            }
            let primary = tag.split('-').next().unwrap_or(tag);
            self.0.iter().find(|c| c.lang.eq_ignore_ascii_case(primary))
        })
        .next()
    }
}

/// `ui_locales`: space-separated BCP 47 tags in order of preference.
fn ui_locales_tags(value: &str) -> impl Iterator<Item = &str> {
    bounded(value)
        .split(' ')
        .filter(|t| !t.is_empty())
        .take(MAX_ENTRIES)
}

/// `Accept-Language` entries ordered by q-value (stable: equal weights keep their order);
/// entries with `q=0` (not acceptable) or a malformed weight are dropped.
fn accept_language_tags(value: &str) -> impl Iterator<Item = &str> {
    let mut weighted: Vec<(u16, &str)> = bounded(value)
        .split(',')
        .take(MAX_ENTRIES)
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let tag = parts.next().filter(|t| !t.is_empty())?;
            let mut q = 1000;
            for p in parts {
                if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                    q = parse_qvalue(v)?;
                }
            }
            (q > 0).then_some((q, tag))
        })
        .collect();
    weighted.sort_by_key(|w| std::cmp::Reverse(w.0));
    weighted.into_iter().map(|(_, tag)| tag)
}

/// RFC 9110 section 12.4.2: `0`, `0.xxx`, `1`, `1.000`; as thousandths.
fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

fn bounded(value: &str) -> &str {
    if value.len() <= MAX_HEADER {
        return value;
    }
    let mut end = MAX_HEADER;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats() -> Catalogues {
        Catalogues::load().expect("every catalogue is complete")
    }

    #[test]
    fn every_catalogue_loads_and_english_is_the_fallback() {
        let c = cats();
        assert_eq!(c.languages(), LANGUAGES);
        assert_eq!(c.choose(None, None).lang, "en");
        assert_eq!(c.choose(Some("fr"), Some("ja")).lang, "en");
    }

    #[test]
    fn catalogues_differ_where_they_should() {
        let c = cats();
        let en = &c.choose(Some("en"), None).messages;
        let de = &c.choose(Some("de"), None).messages;
        assert_eq!(en.sign_in_title, "Sign in");
        assert_eq!(de.sign_in_title, "Anmelden");
        assert_eq!(de.describe_scope("email"), de.scope_email);
        assert_eq!(
            en.describe_scope("calendar.read"),
            "Access \"calendar.read\""
        );
    }

    #[test]
    fn ui_locales_comes_before_accept_language() {
        let c = cats();
        assert_eq!(c.choose(Some("de-CH en"), Some("en")).lang, "de");
        assert_eq!(c.choose(Some("fr de"), Some("en")).lang, "de");
        // Nothing supported in ui_locales: the header decides.
        assert_eq!(c.choose(Some("fr"), Some("de")).lang, "de");
    }

    #[test]
    fn accept_language_follows_q_values() {
        let c = cats();
        assert_eq!(c.choose(None, Some("en;q=0.5, de;q=0.9")).lang, "de");
        assert_eq!(
            c.choose(None, Some("fr-FR, de-AT;q=0.8, en;q=0.7")).lang,
            "de"
        );
        assert_eq!(c.choose(None, Some("de;q=0, en;q=0.1")).lang, "en");
        assert_eq!(c.choose(None, Some("de;q=0")).lang, "en");
        assert_eq!(c.choose(None, Some("DE")).lang, "de");
        // A malformed weight drops that entry only.
        assert_eq!(c.choose(None, Some("de;q=2, en")).lang, "en");
        assert_eq!(c.choose(None, Some("*;q=0.5, de;q=0.4")).lang, "en");
    }

    #[test]
    fn q_values_parse_strictly() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        for bad in ["1.5", "0.1234", "-1", "x", "2", ".5"] {
            assert_eq!(parse_qvalue(bad), None, "{bad}");
        }
    }

    #[test]
    fn huge_headers_are_cut_on_a_character_boundary() {
        let c = cats();
        let long = format!("{}de", "é".repeat(400));
        assert_eq!(c.choose(None, Some(&long)).lang, "en");
    }
}
