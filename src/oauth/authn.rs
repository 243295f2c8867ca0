//! How a person proved who they are: the authentication methods of RFC 8176 that Latchkey
//! can produce, the record of one sign-in (`Authentication`), and the `amr` claim of ID
//! tokens (OpenID Connect Core section 2) derived from it. Sessions and grants keep the
//! claim as space-separated text.
//!
//! The `acr` claim (an authentication context class, OpenID Connect Core section 2) is
//! derived from the same methods by the two-factor policy, not here.

/// An RFC 8176 section 2 authentication method reference value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    /// `pwd`: a password.
    Pwd,
    /// `otp`: a one-time password (an authenticator app code or a recovery code).
    Otp,
    /// `hwk`: proof of possession of a hardware-secured key (a passkey on a security key or
    /// a platform authenticator).
    Hwk,
    /// `swk`: proof of possession of a software-secured key.
    Swk,
    /// `user`: user presence and verification (a PIN or biometric that unlocked the key).
    User,
    /// `mfa`: several authentication factors were used. Derived, never claimed by a method.
    Mfa,
}

/// The kinds of factor (RFC 8176 section 2, `mfa`: "something you know, something you have,
/// something you are").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor {
    Knowledge,
    Possession,
    /// User verification by the authenticator: a PIN (knowledge) or a biometric (inherence).
    /// Either way a factor other than holding the key.
    Verification,
}

impl AuthMethod {
    /// Every value, in the order claims list them.
    pub const ALL: [AuthMethod; 6] = [
        AuthMethod::Pwd,
        AuthMethod::Otp,
        AuthMethod::Hwk,
        AuthMethod::Swk,
        AuthMethod::User,
        AuthMethod::Mfa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pwd => "pwd",
            AuthMethod::Otp => "otp",
            AuthMethod::Hwk => "hwk",
            AuthMethod::Swk => "swk",
            AuthMethod::User => "user",
            AuthMethod::Mfa => "mfa",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    fn factor(self) -> Option<Factor> {
        match self {
            AuthMethod::Pwd => Some(Factor::Knowledge),
            AuthMethod::Otp | AuthMethod::Hwk | AuthMethod::Swk => Some(Factor::Possession),
            AuthMethod::User => Some(Factor::Verification),
            AuthMethod::Mfa => None,
        }
    }
}

/// One successful sign-in: who, by which methods, and when (`auth_time`, OpenID Connect
/// Core section 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub user_id: String,
    /// The methods used, as they were proved (without the derived `mfa`).
    pub methods: Vec<AuthMethod>,
    pub auth_time: i64,
}

impl Authentication {
    /// The `amr` claim of this sign-in.
    pub fn amr(&self) -> Vec<AuthMethod> {
        amr(&self.methods)
    }
}

/// The `amr` claim for the methods used: each once, in a fixed order, plus `mfa` when two
/// distinct kinds of factor were used (a password and a code; a passkey whose
/// authenticator verified the user). Two methods of one kind (a code and a security key:
/// both something you have) are not multi-factor.
pub fn amr(methods: &[AuthMethod]) -> Vec<AuthMethod> {
    let mut out: Vec<AuthMethod> = methods
        .iter()
        .copied()
        .filter(|m| *m != AuthMethod::Mfa)
        .collect();
    out.sort();
    out.dedup();
    let mut kinds = out.iter().filter_map(|m| m.factor());
    let first = kinds.next();
    if kinds.any(|k| Some(k) != first) {
        out.push(AuthMethod::Mfa);
    }
    out
}

/// `amr` as stored: space-separated values.
pub fn amr_to_text(amr: &[AuthMethod]) -> String {
    amr.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" ")
}

/// Stored `amr` text back to values; unknown values are skipped (a value written by a
/// newer version is not a reason to fail a sign-in).
pub fn amr_from_text(text: &str) -> Vec<AuthMethod> {
    text.split_ascii_whitespace()
        .filter_map(AuthMethod::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::AuthMethod::*;
    use super::*;

    #[test]
    fn a_password_alone_is_one_factor() {
        assert_eq!(amr(&[Pwd]), vec![Pwd]);
    }

    #[test]
    fn a_password_and_a_code_are_two_factors() {
        assert_eq!(amr(&[Otp, Pwd]), vec![Pwd, Otp, Mfa]);
    }

    #[test]
    fn a_passkey_that_verified_the_user_is_two_factors() {
        assert_eq!(amr(&[Hwk, User]), vec![Hwk, User, Mfa]);
        assert_eq!(amr(&[Swk, User]), vec![Swk, User, Mfa]);
    }

    #[test]
    fn a_passkey_without_user_verification_is_one_factor() {
        assert_eq!(amr(&[Hwk]), vec![Hwk]);
    }

    #[test]
    fn two_things_you_have_are_not_two_factors() {
        assert_eq!(amr(&[Otp, Hwk]), vec![Otp, Hwk]);
    }

    #[test]
    fn repeated_methods_and_a_claimed_mfa_count_once() {
        assert_eq!(amr(&[Pwd, Pwd, Mfa]), vec![Pwd]);
        assert_eq!(amr(&[Pwd, Otp, Otp]), vec![Pwd, Otp, Mfa]);
    }

    #[test]
    fn stored_text_round_trips_and_skips_unknown_values() {
        let v = amr(&[Pwd, Otp]);
        assert_eq!(amr_to_text(&v), "pwd otp mfa");
        assert_eq!(amr_from_text("pwd otp mfa"), v);
        assert_eq!(amr_from_text("pwd  face"), vec![Pwd]);
        assert_eq!(amr_from_text(""), Vec::<AuthMethod>::new());
    }
}
