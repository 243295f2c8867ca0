//! The authentication context classes (`acr`, OpenID Connect Core section 2) of the
//! two-factor policy, derived from a sign-in's `amr`, and what a request's `acr_values`
//! ask for. Pure: no storage, no HTTP.
use super::super::authn::AuthMethod;

/// The authentication context class of a sign-in with one factor (a password, or a
/// passkey without user verification). Published in `acr_values_supported`.
pub const ACR_SINGLE_FACTOR: &str = "urn:latchkey:acr:sfa";
/// The authentication context class of a sign-in with two kinds of factor (`amr`
/// contains `mfa`): a password and an authenticator code or recovery code, or a passkey
/// that verified the user.
pub const ACR_MULTI_FACTOR: &str = "urn:latchkey:acr:mfa";
/// Both, weakest first (OpenID Connect Discovery `acr_values_supported`).
pub const ACR_VALUES: [&str; 2] = [ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR];

/// The `acr` of a sign-in with these `amr` values.
pub fn acr_for(amr_values: &[AuthMethod]) -> &'static str {
    if amr_values.contains(&AuthMethod::Mfa) {
        ACR_MULTI_FACTOR
    } else {
        ACR_SINGLE_FACTOR
    }
}

/// Whether an authorization request asks for two factors through `acr_values` (OpenID
/// Connect Core section 3.1.2.1: values in order of preference; a voluntary claim, so
/// values this server does not know are passed over). The first value known here decides.
pub fn acr_values_demand_mfa(acr_values: Option<&str>) -> bool {
    acr_values
        .unwrap_or("")
        .split_ascii_whitespace()
        .find(|v| ACR_VALUES.contains(v))
        == Some(ACR_MULTI_FACTOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_known_acr_value_decides() {
        assert!(acr_values_demand_mfa(Some(ACR_MULTI_FACTOR)));
        assert!(acr_values_demand_mfa(Some(&format!(
            "urn:other {ACR_MULTI_FACTOR} {ACR_SINGLE_FACTOR}"
        ))));
        assert!(!acr_values_demand_mfa(Some(&format!(
            "{ACR_SINGLE_FACTOR} {ACR_MULTI_FACTOR}"
        ))));
        assert!(!acr_values_demand_mfa(Some("urn:other")));
        assert!(!acr_values_demand_mfa(None));
    }

    #[test]
    fn acr_follows_amr() {
        assert_eq!(acr_for(&[AuthMethod::Pwd]), ACR_SINGLE_FACTOR);
        assert_eq!(
            acr_for(&[AuthMethod::Pwd, AuthMethod::Otp, AuthMethod::Mfa]),
            ACR_MULTI_FACTOR
        );
    }
}
