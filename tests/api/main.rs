//! The one integration-test binary: every test starts the real server on port 0 with a
//! fresh database (SQLite by default, PostgreSQL when LATCHKEY_TEST_DATABASE_URL is set)
//! and talks to it over HTTP as a real client would.
mod helpers;
mod private_postgres;
mod process;

mod account_page;
mod audit;
mod cleanup;
mod cli;
mod client_credentials;
mod demo;
mod discovery;
mod error_responses;
mod faults;
mod flow;
mod forward_auth;
mod introspection;
mod keys;
mod logout;
mod metrics;
mod passkeys;
mod private_key_jwt;
mod revocation;
mod several_nodes;
mod verifier;

mod authorization_code_flow;
mod authorization_errors;
mod backchannel_logout;
mod branding_and_languages;
mod browser;
mod brute_force;
mod hostile;
mod refresh_rotation;
mod sessions_and_consent;
mod sign_in_methods;
mod sign_in_page;
mod token_exchange;
mod token_exchange_foreign;
mod two_factor;
