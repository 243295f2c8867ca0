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

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// `Domain` of the session cookie (e.g. `example.com`), so that browsers also send it to
    /// sibling hosts whose gateway asks `/forward-auth` (docs/gateways.md). The issuer's
    /// host must be inside it. Unset: the cookie is host-only (`__Host-` with https).
    pub cookie_domain: Option<String>,
}

impl SessionSettings {
    /// The cookie domain without a leading dot, lowercased.
    pub fn cookie_domain(&self) -> Option<String> {
        self.cookie_domain
            .as_deref()
            .map(|d| d.trim_start_matches('.').to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeSettings {
    /// Other issuers whose access tokens clients may exchange (each client only for the
    /// issuers its exchange policy names).
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// An issuer whose JWT access tokens Latchkey accepts as subject tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    /// The `iss` of its tokens, compared exactly.
    pub issuer: String,
    /// Where its public keys are (https, or http to a loopback host); fetched under the same
    /// outbound rules and cache as clients' `jwks_uri` (`keys.client_jwks_*`).
    pub jwks_uri: Url,
    /// JWS algorithms accepted from it (RS256, RS384, RS512, PS256, PS384, PS512, ES256,
    /// ES384, EdDSA); never `none` or HMAC.
    #[serde(default = "default_trusted_algorithms")]
    pub algorithms: Vec<String>,
    /// When set, the token's `aud` must contain it (for example this server's issuer).
    #[serde(default)]
    pub audience: Option<String>,
    /// Accepted values of the JWS header `typ` (case-insensitive); a token without `typ`
    /// is refused. Default: `at+jwt` and `application/at+jwt` (RFC 9068 section 2.1).
    #[serde(default = "default_trusted_typs")]
    pub token_types: Vec<String>,
    /// How its `sub` becomes the `sub` of the exchanged token.
    #[serde(default)]
    pub subject: SubjectMapping,
    /// For `subject = "prefix"`: put before the foreign `sub` (e.g. `"partner:"`).
    #[serde(default)]
    pub subject_prefix: Option<String>,
    /// For `subject = "local_user"`: the claim holding a local username (default
    /// `preferred_username`).
    #[serde(default)]
    pub subject_claim: Option<String>,
}

/// How a foreign subject becomes a subject here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectMapping {
    /// The foreign `sub` unchanged: only for an issuer that shares this server's user ids.
    AsIs,
    /// `subject_prefix` + the foreign `sub`, so foreign subjects never collide with local
    /// user ids.
    #[default]
    Prefix,
    /// The local user whose username is in `subject_claim`; unknown users are refused.
    LocalUser,
}

fn default_trusted_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into(), "EdDSA".into()]
}

fn default_trusted_typs() -> Vec<String> {
    vec!["at+jwt".into(), "application/at+jwt".into()]
}

/// Passkeys (WebAuthn Level 3). The relying party id is the issuer's host and the only
/// accepted origin is the issuer's origin.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeySettings {
    /// `true` or `false`. Unset (the default): on wherever the issuer can be a relying party
    /// id (an https URL with a domain name, or `http://localhost`), otherwise off with a
    /// warning at start-up. Set to `true`, an issuer that cannot be one stops the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Seconds a registration or sign-in ceremony may take, from the options sent to the
    /// browser to the signed answer.
    pub ceremony_ttl: u64,
}

impl Default for PasskeySettings {
    fn default() -> Self {
        Self {
            enabled: None,
            ceremony_ttl: 300,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthSettings {
    /// What each route requires: the rule with a matching host and the longest matching
    /// path prefix applies. No matching rule: a valid access token, no scope or audience.
    pub rules: Vec<ForwardAuthRule>,
    /// Access-token claims passed to the upstream as headers: claim name -> header name
    /// (e.g. `auth_time = "X-Auth-Time"`). For session requests the user's `name`, `email`
    /// and `preferred_username` are available too.
    pub claim_headers: std::collections::BTreeMap<String, String>,
    /// Hosts a browser may be sent back to after signing in: `app.example.com` (exactly that
    /// host) or `.example.com` (that domain and its subdomains). Other hosts get no redirect.
    pub allowed_redirect_domains: Vec<String>,
    /// Where rules with `session = "redirect"` send a browser without a session; the
    /// original URL is added as the `rd` query parameter. Unset: this server's own
    /// `/signin?return_to=<original URL>`.
    pub sign_in_url: Option<Url>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthRule {
    /// Host name the rule is for (case-insensitive, port ignored); unset: every host.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix, matched on whole segments (`/api` matches `/api` and `/api/x`, not `/apix`).
    #[serde(default = "root_path")]
    pub path_prefix: String,
    /// Scopes an access token must carry, all of them.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Audiences an access token's `aud` must contain, all of them.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Browsers with a Latchkey session and no token: `deny` (401), `allow` (200 with the
    /// session's subject; `scopes` and `audiences` apply to tokens only) or `redirect`
    /// (like `allow`, and without a session sent to sign in: `sign_in_url`, or this server's
    /// `/signin`).
    #[serde(default)]
    pub session: SessionPolicy,
}

fn root_path() -> String {
    "/".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionPolicy {
    #[default]
    Deny,
    Allow,
    Redirect,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address of a separate listener that serves only `/metrics`, `/healthz` and `/readyz`
    /// (e.g. `10.0.0.5:9100` on an internal interface). When set, `/metrics` is not served
    /// on the main listener. Unset (the default): `/metrics` is on the main listener for the
    /// addresses in `allow`.
    pub listen: Option<SocketAddr>,
    /// Client addresses or networks (CIDR) that may read `/metrics` on the main listener;
    /// others get 404. Default: loopback only. The address is the one `http.trusted_proxies`
    /// resolves, so requests relayed by a local proxy count as their origin.
    pub allow: Vec<ipnet::IpNet>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: None,
            allow: vec![
                "127.0.0.0/8".parse().expect("static network"),
                "::1/128".parse().expect("static network"),
            ],
        }
    }
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

/// How the sign-in pages look: read at start-up, no recompiling. Colours are `#rgb` or
/// `#rrggbb`; unset colours keep the built-in light and dark palettes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingSettings {
    /// Shown in the page header, the page titles and the footer.
    pub product_name: String,
    /// The header logo: a local file (SVG, PNG, JPEG, WebP or GIF, read once at start-up and
    /// served by Latchkey) or an `https://` URL (then allowed by the pages' CSP `img-src`).
    pub logo: Option<String>,
    /// Buttons and links.
    pub primary_color: Option<String>,
    /// Text on primary buttons; black or white, whichever contrasts more, when unset.
    pub primary_text_color: Option<String>,
    /// The page background.
    pub background_color: Option<String>,
    /// Body text; a dark or light grey matching the background when unset.
    pub text_color: Option<String>,
    /// A folder whose files are served under `/branding/` (fonts, images, stylesheets).
    pub assets_dir: Option<PathBuf>,
    /// A stylesheet in `assets_dir` that every page loads after the built-in ones.
    pub stylesheet: Option<String>,
}

impl Default for BrandingSettings {
    fn default() -> Self {
        Self {
            product_name: "Latchkey".into(),
            logo: None,
            primary_color: None,
            primary_text_color: None,
            background_color: None,
            text_color: None,
            assets_dir: None,
            stylesheet: None,
        }
    }
}

/// `[login]`: the throttle of sign-ins (passwords and second-factor codes alike) and the
/// two-factor policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LoginSettings {
    /// Every sign-in needs a second factor; people without one enrol during sign-in.
    #[serde(default)]
    pub require_two_factor: bool,
    /// The throttle fields sit directly in `[login]` (`max_failures`, ...); unknown keys
    /// are refused there.
    #[serde(flatten)]
    pub throttle: ThrottleSettings,
}

/// `[login]` is read where a `ThrottleSettings` is expected (the throttle's verdict), as
/// the throttle fields are its own.
impl std::ops::Deref for LoginSettings {
    type Target = ThrottleSettings;
    fn deref(&self) -> &ThrottleSettings {
        &self.throttle
    }
}

impl std::ops::DerefMut for LoginSettings {
    fn deref_mut(&mut self) -> &mut ThrottleSettings {
        &mut self.throttle
    }
}

/// Guessing protection (see `oauth::throttle`), counted in the database so all nodes agree.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Failures from one source address for one account (or client) within `failure_window`
    /// after which that address is locked out of it until `failure_window` has passed since
    /// the last failure.
    pub max_failures: u64,
    /// Seconds; at most one day (failures are kept that long).
    pub failure_window: u64,
    /// Failures from one address before attempts are spaced by growing delays (1 s, 2 s,
    /// 4 s, ...).
    pub delay_after: u64,
    /// Longest delay between two attempts, seconds.
    pub max_delay: u64,
    /// Failures for one account (or client) from all addresses together after which every
    /// address that has failed at least once is locked out; addresses without failures are
    /// still let through, so an attack cannot lock the real owner out.
    pub max_failures_all_addresses: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// Lifetime of a token issued by token exchange (RFC 8693), seconds; never more than
    /// `access_token_ttl` nor the subject token's remaining life.
    pub exchanged_token_ttl: u64,
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
    /// How often each node looks for back-channel logouts queued by another process (the
    /// `users set-password` command, a node that stopped), seconds. Sign-outs on a node are
    /// delivered at once.
    pub logout_outbox_interval: u64,
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
    /// Seconds a signing key signs before it is replaced automatically (per algorithm,
    /// decided through the database so one node rotates); 0 turns automatic rotation off.
    pub rotation_period: u64,
    /// Shortest interval, seconds, between two fetches of a client's `jwks_uri` caused by an
    /// assertion naming a key we have not seen (limits what unknown `kid`s can make us do).
    pub client_jwks_min_refetch: u64,
    /// Networks (CIDR) a client's `jwks_uri` may resolve to although they are otherwise
    /// refused (link-local, cloud metadata, loopback under a name other than `localhost`;
    /// see `keys::outbound`). Empty by default.
    pub client_jwks_allowed_networks: Vec<ipnet::IpNet>,
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
        for (name, t) in [
            ("login", &self.login.throttle),
            ("client_auth", &self.client_auth),
        ] {
            if t.failure_window == 0 || t.failure_window > 24 * 3600 {
                bail!("{name}.failure_window must be between 1 and 86400 seconds");
            }
            if t.max_failures == 0 || t.max_failures_all_addresses == 0 {
                bail!("{name}.max_failures and max_failures_all_addresses must be positive");
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format must be text or json");
        }
        if self.passkeys.ceremony_ttl == 0 || self.passkeys.ceremony_ttl > 3600 {
            bail!("passkeys.ceremony_ttl must be between 1 and 3600 seconds");
        }
        if self.passkeys.enabled == Some(true)
            && let Err(why) = self.passkey_relying_party()
        {
            bail!(
                "passkeys.enabled is true, but the issuer {} cannot be a WebAuthn relying party: {why}; use an https issuer with a domain name (or http://localhost), or set passkeys.enabled = false",
                self.issuer_str()
            );
        }
        self.validate_branding()?;
        self.validate_forward_auth()?;
        self.validate_token_exchange()?;
        self.validate_session()
    }

    fn validate_session(&self) -> anyhow::Result<()> {
        let Some(domain) = self.session.cookie_domain() else {
            return Ok(());
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !domain.contains('.') || !domain.split('.').all(label_ok) {
            bail!(
                "session.cookie_domain {domain:?} must be a domain name of at least two labels (a cookie cannot be shared on an address or a top-level domain)"
            );
        }
        if domain.parse::<std::net::Ipv4Addr>().is_ok() {
            bail!("session.cookie_domain must be a domain name, not an address");
        }
        let host = match self.issuer.host() {
            Some(url::Host::Domain(h)) => h.to_ascii_lowercase(),
            _ => bail!("session.cookie_domain needs an issuer with a domain name, not an address"),
        };
        if host != domain && !host.ends_with(&format!(".{domain}")) {
            bail!(
                "session.cookie_domain {domain:?} must contain the issuer's host {host:?} (RFC 6265 section 5.3: a browser ignores a Domain that does not)"
            );
        }
        Ok(())
    }

    fn validate_token_exchange(&self) -> anyhow::Result<()> {
        let own = self.issuer_str();
        let mut seen = std::collections::HashSet::new();
        for t in &self.token_exchange.trusted_issuers {
            let name = &t.issuer;
            let ctx = |what: &str| format!("token_exchange.trusted_issuers {name:?}: {what}");
            crate::oauth::model::ExchangePolicy::validate_issuer(name)
                .map_err(|e| anyhow::anyhow!(ctx(&e)))?;
            if *name == own {
                bail!(ctx("this server's own issuer needs no entry"));
            }
            if !seen.insert(name.as_str()) {
                bail!(ctx("listed twice"));
            }
            crate::keys::OutboundPolicy::default()
                .check_url(&t.jwks_uri)
                .map_err(|e| anyhow::anyhow!(ctx(&format!("jwks_uri: {e}"))))?;
            if t.algorithms.is_empty() {
                bail!(ctx("algorithms is empty"));
            }
            if let Some(bad) = t
                .algorithms
                .iter()
                .find(|a| !crate::keys::is_verifiable_alg(a))
            {
                bail!(ctx(&format!("algorithm {bad:?} is not accepted")));
            }
            if t.token_types.is_empty() || t.token_types.iter().any(|s| s.trim().is_empty()) {
                bail!(ctx("token_types must list at least one typ"));
            }
            match t.subject {
                SubjectMapping::Prefix if t.subject_prefix.as_deref().is_none_or(str::is_empty) => {
                    bail!(ctx("subject = \"prefix\" needs a subject_prefix"));
                }
                SubjectMapping::AsIs | SubjectMapping::LocalUser if t.subject_prefix.is_some() => {
                    bail!(ctx("subject_prefix applies only to subject = \"prefix\""));
                }
                _ => {}
            }
            if t.subject_claim.is_some() && t.subject != SubjectMapping::LocalUser {
                bail!(ctx(
                    "subject_claim applies only to subject = \"local_user\""
                ));
            }
        }
        Ok(())
    }

    /// The WebAuthn relying party id (the issuer's host) and origin (the issuer's origin),
    /// or why the issuer cannot be one: WebAuthn needs a secure context and a domain
    /// (WebAuthn Level 3 section 5.1.3 step 8; an IP address is not a valid domain).
    pub fn passkey_relying_party(&self) -> Result<(String, Url), String> {
        let host = match self.issuer.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(_) => return Err("its host is an IP address, not a domain name".into()),
            None => return Err("it has no host".into()),
        };
        let local = host == "localhost" || host.ends_with(".localhost");
        if self.issuer.scheme() != "https" && !local {
            return Err(
                "browsers offer WebAuthn only to https pages (and http://localhost)".into(),
            );
        }
        let origin = Url::parse(&self.issuer.origin().ascii_serialization())
            .map_err(|e| format!("its origin is not a URL: {e}"))?;
        Ok((host, origin))
    }

    /// Whether passkeys are on: `passkeys.enabled`, or when unset whether the issuer can be
    /// a relying party id.
    pub fn passkeys_enabled(&self) -> bool {
        match self.passkeys.enabled {
            Some(on) => on,
            None => self.passkey_relying_party().is_ok(),
        }
    }

    fn validate_forward_auth(&self) -> anyhow::Result<()> {
        let f = &self.forward_auth;
        for rule in &f.rules {
            if !rule.path_prefix.starts_with('/') {
                bail!("forward_auth.rules: path_prefix must start with /");
            }
            for s in &rule.scopes {
                crate::domain::ScopeToken::parse(s)
                    .with_context(|| format!("forward_auth.rules: {s:?} is not a scope"))?;
            }
        }
        for header in f.claim_headers.values() {
            // RFC 9110 section 5.1: a field name is a token.
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if header.is_empty() || !header.chars().all(token) {
                bail!("forward_auth.claim_headers: {header:?} is not a header name");
            }
        }
        Ok(())
    }

    fn validate_branding(&self) -> anyhow::Result<()> {
        let b = &self.branding;
        if b.product_name.trim().is_empty() || b.product_name.chars().count() > 64 {
            bail!("branding.product_name must be 1 to 64 characters");
        }
        for (name, value) in [
            ("primary_color", &b.primary_color),
            ("primary_text_color", &b.primary_text_color),
            ("background_color", &b.background_color),
            ("text_color", &b.text_color),
        ] {
            if let Some(v) = value {
                crate::branding::Rgb::parse(v)
                    .with_context(|| format!("branding.{name} is not a colour"))?;
            }
        }
        if let Some(logo) = &b.logo
            && (logo.starts_with("http:") || logo.contains("://"))
            && !logo.starts_with("https://")
        {
            bail!("branding.logo must be a file path or an https:// URL");
        }
        if b.stylesheet.is_some() && b.assets_dir.is_none() {
            bail!("branding.stylesheet names a file in branding.assets_dir, which is not set");
        }
        if let Some(sheet) = &b.stylesheet
            && !crate::branding::is_plain_file_name(sheet)
        {
            bail!("branding.stylesheet must be a file name inside branding.assets_dir");
        }
        Ok(())
    }

    /// Key rotation as configured: a successor is published `prepublish` seconds before it
    /// signs, never less than one JWKS cache lifetime (`jwks_max_age` + `reload_interval`);
    /// a retired key stays published for `retired_key_retention`, never less than the
    /// longest lifetime of a token it signed (access or ID token) plus the clock skew.
    pub fn rotation_policy(&self) -> crate::keys::RotationPolicy {
        let k = &self.keys;
        let t = &self.tokens;
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let cache_lifetime = secs(k.jwks_max_age).saturating_add(secs(k.reload_interval));
        let longest_token =
            secs(t.access_token_ttl.max(t.id_token_ttl)).saturating_add(secs(t.clock_skew));
        crate::keys::RotationPolicy {
            period: secs(k.rotation_period),
            prepublish: secs(k.rotation_delay).max(cache_lifetime),
            retention: secs(k.retired_key_retention).max(longest_token),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_never_publishes_late_or_unpublishes_early() {
        let mut s = Settings::default();
        let p = s.rotation_policy();
        assert_eq!(p.period, 90 * 24 * 3600);
        assert_eq!(p.prepublish, 600);
        assert_eq!(p.retention, 7 * 24 * 3600);

        // A JWKS cached longer than the delay: publish at least one cache lifetime ahead.
        s.keys.jwks_max_age = 3600;
        s.keys.rotation_delay = 60;
        assert_eq!(s.rotation_policy().prepublish, 3600 + 30);
        // Tokens outliving the retention: keep the key until they have expired.
        s.keys.retired_key_retention = 60;
        s.tokens.id_token_ttl = 86_400;
        assert_eq!(s.rotation_policy().retention, 86_400 + 60);
    }

    #[test]
    fn forward_auth_rules_load_from_the_file() {
        let dir = std::env::temp_dir().join(format!("latchkey-fa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latchkey.toml");
        std::fs::write(
            &file,
            r#"
[forward_auth]
allowed_redirect_domains = [".example.com"]
sign_in_url = "https://portal.example.com/sign-in"
claim_headers = { auth_time = "X-Auth-Time" }

[[forward_auth.rules]]
host = "api.example.com"
path_prefix = "/orders"
scopes = ["orders:read"]

[[forward_auth.rules]]
session = "redirect"
"#,
        )
        .unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let f = &s.forward_auth;
        assert_eq!(f.rules.len(), 2);
        assert_eq!(f.rules[0].host.as_deref(), Some("api.example.com"));
        assert_eq!(f.rules[0].scopes, ["orders:read"]);
        assert_eq!(f.rules[0].session, SessionPolicy::Deny);
        assert_eq!(f.rules[1].path_prefix, "/");
        assert_eq!(f.rules[1].session, SessionPolicy::Redirect);
        assert_eq!(f.claim_headers["auth_time"], "X-Auth-Time");
    }

    #[test]
    fn forward_auth_settings_that_cannot_work_are_refused() {
        let rule = |session| ForwardAuthRule {
            host: None,
            path_prefix: "/app".into(),
            scopes: vec!["read".into()],
            audiences: Vec::new(),
            session,
        };
        let mut s = Settings::default();
        s.forward_auth.rules = vec![rule(SessionPolicy::Allow)];
        assert!(s.validate().is_ok());
        s.forward_auth.rules = vec![rule(SessionPolicy::Redirect)];
        assert!(s.validate().is_ok(), "redirect to this server's /signin");
        s.forward_auth.sign_in_url = Some(Url::parse("https://portal.example.com/in").unwrap());
        assert!(s.validate().is_ok());
        let mut bad = rule(SessionPolicy::Deny);
        bad.scopes = vec!["two words".into()];
        s.forward_auth.rules = vec![bad];
        assert!(s.validate().is_err(), "scope");
        let mut bad = rule(SessionPolicy::Deny);
        bad.path_prefix = "app".into();
        s.forward_auth.rules = vec![bad];
        assert!(s.validate().is_err(), "path prefix");
        s.forward_auth.rules = Vec::new();
        s.forward_auth.claim_headers = [("email".to_owned(), "X-Auth-Email\r\n".to_owned())]
            .into_iter()
            .collect();
        assert!(s.validate().is_err(), "header name");
    }

    #[test]
    fn the_session_cookie_domain_must_contain_the_issuer() {
        let with = |issuer: &str, domain: &str| {
            let mut s = Settings {
                issuer: Url::parse(issuer).unwrap(),
                ..Settings::default()
            };
            s.session.cookie_domain = Some(domain.into());
            s.validate()
        };
        assert!(with("https://login.example.com", "example.com").is_ok());
        assert!(with("https://login.example.com", ".Example.com").is_ok());
        assert!(with("https://example.com", "example.com").is_ok());
        assert!(with("https://login.example.com", "other.com").is_err());
        assert!(
            with("https://login.example.com", "ample.com").is_err(),
            "not a suffix of labels"
        );
        assert!(
            with("https://login.example.com", "com").is_err(),
            "top-level domain"
        );
        assert!(
            with("https://127.0.0.1", "0.0.1").is_err(),
            "address issuer"
        );
        assert!(with("https://login.example.com", "exa mple.com").is_err());
    }

    #[test]
    fn a_period_shorter_than_the_pre_publication_is_refused() {
        let mut s = Settings::default();
        s.keys.rotation_period = 300;
        assert!(s.validate().is_err());
        s.keys.rotation_period = 0;
        assert!(s.validate().is_ok());
    }
}
