//! Attacks, each asserting the exact refusal and that nothing was stored or issued
//! (`TestApp::stored` before and after). Attacks already covered elsewhere are not repeated
//! here: duplicated and malformed parameters at `/token` (`error_responses`), plain PKCE and
//! missing verifiers (`authorization_errors`), refresh tokens of other clients
//! (`refresh_rotation`), wrong `aud`, expired, `alg: none` and replayed assertions
//! (`private_key_jwt`), CSRF on login and logout (`authorization_errors`,
//! `sessions_and_consent`), guessing (`brute_force`).
mod assertions;
mod headers;
mod input;
mod redirects;
mod sessions;
mod tokens;
