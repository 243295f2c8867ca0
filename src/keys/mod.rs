//! Signing keys and JOSE: key generation and storage format (`generate`), the in-memory key
//! ring that signs and verifies this server's tokens and serves its JWK Set (`ring`), JWS
//! compact serialization and verification of client-signed tokens (`jws`), client JWK Sets
//! (`jwk`), the cache of clients' `jwks_uri` documents (`remote`) and where fetching them may
//! connect (`outbound`).
//!
//! Storage is reached only through `repository::KeyRepository`. This module must not import
//! axum or sea_orm; it may be used by `oauth`, `web`, `store` and the CLI.
mod generate;
mod jwk;
mod jws;
mod outbound;
mod remote;
pub mod repository;
mod ring;

pub use generate::generate;
pub use jwk::{Jwk, JwkSet, is_verifiable_alg, parse_jwks};
pub use jws::{
    KeyError, MAX_TOKEN_LEN, UnverifiedJws, VerifiedJws, decode_unverified, verify_with_jwks,
};
pub use outbound::{OutboundPolicy, guarded_client, is_loopback_host};
pub use remote::RemoteJwksCache;
pub use repository::{KeyRepository, StoredKey};
pub use ring::{
    KeyInfo, KeyRing, RotationPolicy, emergency_rotate_keys, rotate_due_keys, rotate_keys,
};
