//! Typed settings: defaults, then an optional TOML file, then `LATCHKEY_*` environment
//! variables (nested keys joined by `__`, e.g. `LATCHKEY_TOKENS__ACCESS_TOKEN_TTL`).
//! Loaded once in `main` and passed down; nothing reads the environment later.
//!
//! This file holds the top level (`Settings`, its defaults, loading and the checks that
//! span sections); each `[section]` has a file of its own with its checks and tests.
mod branding;
mod cache;
mod forward_auth;
mod http;
mod keys;
mod logging;
mod login;
mod metrics;
mod passkeys;
mod session;
mod token_exchange;
mod tokens;

pub use self::branding::BrandingSettings;
pub use self::cache::CacheSettings;
pub use self::forward_auth::{ForwardAuthRule, ForwardAuthSettings, SessionPolicy};
pub use self::http::HttpSettings;
pub use self::keys::KeySettings;
pub use self::logging::LogSettings;
pub use self::login::{LoginSettings, ThrottleSettings};
pub use self::metrics::MetricsSettings;
pub use self::passkeys::PasskeySettings;
pub use self::session::SessionSettings;
pub use self::token_exchange::{SubjectMapping, TokenExchangeSettings, TrustedIssuer};
pub use self::tokens::TokenSettings;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::SigningAlg;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The issuer identifier (OpenID Connect Discovery section 3): `https` URL without query
    /// or fragment. Every endpoint URL is derived from it.
    pub issuer: Url,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// `sqlite://PATH?mode=rwc` or `postgres://...`.
    #[serde(serialize_with = "ser_redacted")]
    pub database_url: SecretString,
    /// Maximum number of pooled database connections.
    pub database_max_connections: u32,
    /// Base64 of 32 random bytes. When unset, `master_key_file` is read (and created on
    /// first start).
    #[serde(serialize_with = "ser_redacted_opt")]
    pub master_key: Option<SecretString>,
    pub master_key_file: PathBuf,
    pub tokens: TokenSettings,
    pub keys: KeySettings,
    /// Sign-in: throttling of failed passwords and codes, per (account, source address) and
    /// per account, and whether two factors are required.
    pub login: LoginSettings,
    /// Throttling of failed client authentication at `/token`, `/introspect` and `/revoke`,
    /// per (client id, source address) and per client id.
    pub client_auth: ThrottleSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub branding: BrandingSettings,
    pub cache: CacheSettings,
    /// `/forward-auth`, called by API gateways (nginx `auth_request`, Traefik `ForwardAuth`,
    /// Envoy `ext_authz`) for every request; docs/gateways.md.
    pub forward_auth: ForwardAuthSettings,
    /// Token exchange (RFC 8693) with subject tokens of other issuers; docs/token-exchange.md.
    pub token_exchange: TokenExchangeSettings,
    /// The browser session at Latchkey.
    pub session: SessionSettings,
    /// Passkeys (WebAuthn): registration on the account page, sign-in without a password.
    pub passkeys: PasskeySettings,
}

fn ser_redacted<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<redacted>")
}

fn ser_redacted_opt<S: serde::Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            issuer: Url::parse("http://127.0.0.1:8080").expect("static URL"),
            listen: "127.0.0.1:8080".parse().expect("static address"),
            database_url: SecretString::from("sqlite://latchkey.db?mode=rwc"),
            database_max_connections: 16,
            master_key: None,
            master_key_file: PathBuf::from("latchkey.master.key"),
            tokens: TokenSettings {
                access_token_ttl: 3600,
                exchanged_token_ttl: 300,
                access_token_alg: SigningAlg::RS256,
                default_audience: None,
                authorization_code_ttl: 60,
                id_token_ttl: 3600,
                refresh_token_ttl: 30 * 24 * 3600,
                refresh_token_grace: 10,
                client_assertion_max_lifetime: 600,
                clock_skew: 60,
                session_ttl: 12 * 3600,
                interaction_ttl: 3600,
                purge_interval: 600,
                logout_outbox_interval: 5,
            },
            keys: KeySettings {
                reload_interval: 30,
                retired_key_retention: 7 * 24 * 3600,
                jwks_max_age: 300,
                rotation_delay: 600,
                rotation_period: 90 * 24 * 3600,
                client_jwks_min_refetch: 10,
                client_jwks_allowed_networks: Vec::new(),
            },
            login: LoginSettings {
                require_two_factor: false,
                throttle: ThrottleSettings {
                    max_failures: 10,
                    failure_window: 900,
                    delay_after: 3,
                    max_delay: 60,
                    max_failures_all_addresses: 100,
                },
            },
            client_auth: ThrottleSettings {
                max_failures: 20,
                failure_window: 300,
                delay_after: 5,
                max_delay: 30,
                max_failures_all_addresses: 200,
            },
            http: HttpSettings::default(),
            log: LogSettings {
                filter: "info".into(),
                format: "text".into(),
            },
            metrics: MetricsSettings::default(),
            branding: BrandingSettings::default(),
            cache: CacheSettings {
                client_ttl: 2,
                revocation_refresh: 2,
            },
            forward_auth: ForwardAuthSettings::default(),
            token_exchange: TokenExchangeSettings::default(),
            session: SessionSettings::default(),
            passkeys: PasskeySettings::default(),
        }
    }
}

/// Serialisation of defaults for figment; secrets are written as their real values here
/// because this never leaves the process.
#[derive(Serialize)]
struct Defaults {
    issuer: String,
    listen: String,
    database_url: String,
    database_max_connections: u32,
    master_key_file: PathBuf,
    tokens: TokenSettings,
    keys: KeySettings,
    login: LoginSettings,
    client_auth: ThrottleSettings,
    http: HttpSettings,
    log: LogSettings,
    metrics: MetricsSettings,
    branding: BrandingSettings,
    cache: CacheSettings,
    forward_auth: ForwardAuthSettings,
    token_exchange: TokenExchangeSettings,
    session: SessionSettings,
    passkeys: PasskeySettings,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "issuer",
    "listen",
    "database_url",
    "database_max_connections",
    "master_key",
    "master_key_file",
    "tokens",
    "keys",
    "login",
    "client_auth",
    "http",
    "log",
    "metrics",
    "branding",
    "cache",
    "forward_auth",
    "token_exchange",
    "session",
    "passkeys",
];

impl Settings {
    /// Defaults < TOML file (when given) < `LATCHKEY_*` environment variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let d = Settings::default();
        let defaults = Defaults {
            issuer: d.issuer.to_string(),
            listen: d.listen.to_string(),
            database_url: d.database_url.expose_secret().to_owned(),
            database_max_connections: d.database_max_connections,
            master_key_file: d.master_key_file,
            tokens: d.tokens,
            keys: d.keys,
            login: d.login,
            client_auth: d.client_auth,
            http: d.http,
            log: d.log,
            metrics: d.metrics,
            branding: d.branding,
            cache: d.cache,
            forward_auth: d.forward_auth,
            token_exchange: d.token_exchange,
            session: d.session,
            passkeys: d.passkeys,
        };
        let mut fig = Figment::from(Serialized::defaults(defaults));
        if let Some(path) = file {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        // Only the settings' own keys: other LATCHKEY_* variables (LATCHKEY_CONFIG, test
        // harness variables) are not configuration.
        fig = fig.merge(Env::prefixed("LATCHKEY_").split("__").filter(|key| {
            let top = key
                .as_str()
                .split('.')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            TOP_LEVEL_KEYS.contains(&top.as_str())
        }));
        let settings: Settings = fig.extract().context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let iss = &self.issuer;
        if !matches!(iss.scheme(), "https" | "http") {
            bail!("issuer must be an http(s) URL");
        }
        if iss.query().is_some() || iss.fragment().is_some() {
            bail!("issuer must not have a query or fragment (OpenID Connect Discovery section 3)");
        }
        let db = self.database_url.expose_secret();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            bail!("database_url must start with sqlite:, postgres:// or postgresql://");
        }
        if self.tokens.access_token_ttl == 0
            || self.tokens.authorization_code_ttl == 0
            || self.tokens.exchanged_token_ttl == 0
        {
            bail!("token lifetimes must be positive");
        }
        let policy = self.rotation_policy();
        if policy.period != 0 && policy.period <= policy.prepublish {
            bail!(
                "keys.rotation_period must exceed the pre-publication time ({} s: the larger of keys.rotation_delay and keys.jwks_max_age + keys.reload_interval)",
                policy.prepublish
            );
        }
        self.validate_throttles()?;
        self.validate_log()?;
        self.validate_passkeys()?;
        self.validate_branding()?;
        self.validate_forward_auth()?;
        self.validate_token_exchange()?;
        self.validate_session()
    }

    /// The issuer as a string without a trailing slash, the form used in `iss` claims.
    pub fn issuer_str(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    /// An endpoint URL under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer_str(), path)
    }

    pub fn master_key(&self) -> anyhow::Result<crate::crypto::MasterKey> {
        match &self.master_key {
            Some(b64) => crate::crypto::MasterKey::from_base64(b64.expose_secret())
                .context("LATCHKEY_MASTER_KEY is invalid"),
            None => crate::crypto::MasterKey::load_or_create(&self.master_key_file),
        }
    }

    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.issuer.scheme() == "https"
    }
}
