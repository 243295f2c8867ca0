//! Latchkey: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! Dependency rule: `domain` <- `oauth` <- `web`; `store` implements `oauth::ports`.
//! Only `store` imports sea-orm; only `web` imports axum and askama.
pub mod admin;
pub mod audit;
pub mod branding;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod i18n;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod read_ahead;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
