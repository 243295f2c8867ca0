//! Request parsing: the form/query decoder every endpoint uses, then the newtypes each
//! parameter is parsed into. Any input must give a value or an error, never a panic.
#![no_main]
use latchkey::domain::{
    AuthMethod, ClientId, CodeChallenge, CodeVerifier, GrantType, RedirectUri, ResourceUri,
    Scope,
};
use latchkey::oauth::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    if let Some(s) = params.get("scope")
        && let Ok(scope) = Scope::parse(s)
    {
        // What parses renders back to something that parses to the same set.
        assert_eq!(Scope::parse(&scope.to_string()).ok(), Some(scope));
    }
    if let Some(s) = params.get("redirect_uri")
        && let Ok(uri) = RedirectUri::parse(s)
    {
        assert_eq!(uri.as_str(), s);
    }
    for name in ["client_id", "code_verifier", "code_challenge", "grant_type"] {
        if let Some(s) = params.get(name) {
            let _ = ClientId::parse(s);
            let _ = CodeVerifier::parse(s);
            let _ = CodeChallenge::parse(s);
            let _ = GrantType::parse(s);
            let _ = AuthMethod::parse(s);
        }
    }
    for r in params.all("resource") {
        let _ = ResourceUri::parse(r);
    }
});
