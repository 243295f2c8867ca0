//! The claims of a verified access token (RFC 9068 section 2.2) and their checks.
use serde_json::Value;

use crate::{VerifierConfig, VerifyError};

/// A verified access token's claims.
#[derive(Debug, Clone)]
pub struct Claims {
    /// The resource owner: a user id, or the client id for client-credentials tokens.
    pub sub: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub exp: i64,
    pub jti: Option<String>,
    /// Every claim, for those not named above (`act`, `auth_time`, ...).
    pub all: Value,
}

impl Claims {
    pub(crate) fn check(
        all: Value,
        config: &VerifierConfig,
        now: i64,
    ) -> Result<Self, VerifyError> {
        let leeway = config.leeway.as_secs() as i64;
        let str_claim = |name: &str| all.get(name).and_then(Value::as_str);
        if str_claim("iss") != Some(config.issuer.as_str()) {
            return Err(VerifyError::WrongIssuer);
        }
        let aud_ok = match all.get("aud") {
            Some(Value::String(a)) => *a == config.audience,
            Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some(&config.audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(VerifyError::WrongAudience);
        }
        let exp = all
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(VerifyError::Malformed)?;
        if exp + leeway <= now {
            return Err(VerifyError::Expired);
        }
        match all.get("nbf") {
            None => {}
            Some(n) => match n.as_i64() {
                Some(nbf) if nbf - leeway > now => return Err(VerifyError::NotYetValid),
                Some(_) => {}
                None => return Err(VerifyError::Malformed),
            },
        }
        let sub = str_claim("sub").ok_or(VerifyError::Malformed)?.to_owned();
        let client_id = str_claim("client_id")
            .ok_or(VerifyError::Malformed)?
            .to_owned();
        let scopes = str_claim("scope")
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let jti = str_claim("jti").map(str::to_owned);
        Ok(Self {
            sub,
            client_id,
            scopes,
            exp,
            jti,
            all,
        })
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `Err(InsufficientScope)` naming every required scope unless the token has them all.
    pub fn require_scopes<S: AsRef<str>>(&self, required: &[S]) -> Result<(), VerifyError> {
        if required.iter().all(|r| self.has_scope(r.as_ref())) {
            return Ok(());
        }
        Err(VerifyError::InsufficientScope {
            required: required.iter().map(|r| r.as_ref().to_owned()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn config() -> VerifierConfig {
        let mut c = VerifierConfig::new("https://id.example", "orders");
        c.leeway = Duration::from_secs(30);
        c
    }

    fn token(patch: Value) -> Value {
        let mut t = json!({"iss": "https://id.example", "aud": ["billing", "orders"],
            "exp": 1000, "nbf": 900, "sub": "u1", "client_id": "web", "scope": "a orders:read"});
        for (k, v) in patch.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    }

    #[test]
    fn claims_are_checked_with_leeway() {
        let c = config();
        let ok = Claims::check(token(json!({})), &c, 1029).unwrap();
        assert_eq!(ok.scopes, ["a", "orders:read"]);
        assert!(ok.require_scopes(&["orders:read"]).is_ok());
        assert!(matches!(
            ok.require_scopes(&["orders:read", "orders:write"]),
            Err(VerifyError::InsufficientScope { .. })
        ));
        assert_eq!(
            Claims::check(token(json!({})), &c, 1030).unwrap_err(),
            VerifyError::Expired
        );
        assert_eq!(
            Claims::check(token(json!({})), &c, 869).unwrap_err(),
            VerifyError::NotYetValid
        );
        assert!(Claims::check(token(json!({})), &c, 870).is_ok());
        let wrong = |p, e| assert_eq!(Claims::check(token(p), &c, 950).unwrap_err(), e);
        wrong(json!({"iss": "https://other"}), VerifyError::WrongIssuer);
        wrong(json!({"aud": "billing"}), VerifyError::WrongAudience);
        wrong(json!({"aud": null}), VerifyError::WrongAudience);
        wrong(json!({"exp": "soon"}), VerifyError::Malformed);
        wrong(json!({"nbf": "now"}), VerifyError::Malformed);
        wrong(json!({"sub": 7}), VerifyError::Malformed);
    }
}
