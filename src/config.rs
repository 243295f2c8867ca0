//! Typed settings: defaults, then an optional TOML file, then `LATCHKEY_*` environment
//! variables (nested keys joined by `__`, e.g. `LATCHKEY_TOKENS__ACCESS_TOKEN_TTL`).
//! Loaded once in `main` and passed down; nothing reads the environment later.
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
    pub login: LoginSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub cache: CacheSettings,
}

/// Per-node caches of database records, each with a bound on how stale it may be. Every
/// node reads the same database, so a change made through another node (or the CLI) is
/// seen here within these bounds; 0 turns a cache off (every request reads the database).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Seconds a client record (secret hash, redirect URIs, scopes, ...) read from the
    /// database is reused: a deleted client or a rotated secret stops working on every node
    /// within this time.
    pub client_ttl: u64,
    /// Seconds between reloads of the revoked access-token ids from the database: an access
    /// token revoked through another node is reported inactive by introspection and refused
    /// by userinfo on this node within this time (at once on the node that revoked it).
    pub revocation_refresh: u64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Addresses or networks (CIDR) of the reverse proxies in front of Latchkey. A request
    /// whose peer is one of them is attributed to the address its `X-Forwarded-For` header
    /// names (the right-most one that is not itself a trusted proxy); from any other peer the
    /// header is ignored, so a client cannot choose the address it is throttled and logged
    /// under. Empty (the default): the peer address is always used.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSettings {
    /// Failed sign-ins for one username within `failure_window` after which further attempts
    /// are refused until the window has passed (guessing protection, shared by all nodes).
    pub max_failures: u64,
    /// Seconds.
    pub failure_window: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// Default JWS algorithm for access tokens; a client may override it.
    pub access_token_alg: SigningAlg,
    /// `aud` of access tokens when the request names no `resource`; the issuer when unset.
    pub default_audience: Option<String>,
    /// Authorization code lifetime, seconds.
    pub authorization_code_ttl: u64,
    /// ID token lifetime, seconds.
    pub id_token_ttl: u64,
    /// Refresh token lifetime, seconds (sliding: each rotation starts a new period).
    pub refresh_token_ttl: u64,
    /// Seconds after a refresh token is rotated during which the same token may be used
    /// again (concurrent refreshes) without the whole family being revoked.
    pub refresh_token_grace: u64,
    /// Longest accepted lifetime of a `private_key_jwt` assertion, seconds.
    pub client_assertion_max_lifetime: u64,
    /// Allowed clock skew for assertions from clients, seconds.
    pub clock_skew: u64,
    /// Lifetime of a sign-in session at Latchkey, seconds.
    pub session_ttl: u64,
    /// How long a login or consent page stays valid, seconds.
    pub interaction_ttl: u64,
    /// How often each node deletes expired sessions, codes, refresh tokens and revocation
    /// records, seconds.
    pub purge_interval: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// How often each node re-reads signing keys from the database, seconds.
    pub reload_interval: u64,
    /// How long a rotated-out key stays published in the JWKS, seconds. Must exceed the
    /// longest token lifetime so that tokens it signed can still be verified.
    pub retired_key_retention: u64,
    /// `Cache-Control: max-age` of the JWKS response, seconds.
    pub jwks_max_age: u64,
    /// Seconds between `latchkey keys rotate` publishing new keys and signing with them; more
    /// than `jwks_max_age` + `reload_interval`, so verifiers' cached JWKS already hold them.
    pub rotation_delay: u64,
    /// Shortest interval, seconds, between two fetches of a client's `jwks_uri` caused by an
    /// assertion naming a key we have not seen (limits what unknown `kid`s can make us do).
    pub client_jwks_min_refetch: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing_subscriber` filter directive, e.g. `info,latchkey=debug`.
    pub filter: String,
    /// `text` or `json`.
    pub format: String,
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
            },
            keys: KeySettings {
                reload_interval: 30,
                retired_key_retention: 7 * 24 * 3600,
                jwks_max_age: 300,
                rotation_delay: 600,
                client_jwks_min_refetch: 10,
            },
            login: LoginSettings {
                max_failures: 5,
                failure_window: 900,
            },
            http: HttpSettings::default(),
            log: LogSettings {
                filter: "info".into(),
                format: "text".into(),
            },
            cache: CacheSettings {
                client_ttl: 2,
                revocation_refresh: 2,
            },
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
    http: HttpSettings,
    log: LogSettings,
    cache: CacheSettings,
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
    "http",
    "log",
    "cache",
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
            http: d.http,
            log: d.log,
            cache: d.cache,
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
        if self.tokens.access_token_ttl == 0 || self.tokens.authorization_code_ttl == 0 {
            bail!("token lifetimes must be positive");
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format must be text or json");
        }
        Ok(())
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
