//! sea-orm entities, one file per table of `migrations/`. Private to `store`.
pub mod authorization_code;
pub mod client;
pub mod client_assertion_jti;
pub mod client_exchange_policy;
pub mod consent;
pub mod grant;
pub mod grant_access_token;
pub mod login_failure;
pub mod logout_outbox;
pub mod passkey;
pub mod passkey_ceremony;
pub mod refresh_token;
pub mod revoked_token;
pub mod session;
pub mod signing_key;
pub mod user;
