//! `latchkey init`: a commented configuration file with production defaults and a new
//! master key file (mode 0600). Refuses to overwrite either; writes both or neither.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use crate::config::Settings;
use crate::crypto::MasterKey;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The configuration file to write.
    #[arg(default_value = "latchkey.toml", value_name = "FILE")]
    pub file: PathBuf,
    /// The public base URL clients will reach this server at (the issuer).
    #[arg(long, default_value = "https://login.example.com")]
    pub issuer: url::Url,
    /// Where to write the master key; next to the configuration file when not given.
    #[arg(long, value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}

pub fn run(args: InitArgs) -> anyhow::Result<()> {
    let key_path = args.master_key_file.clone().unwrap_or_else(|| {
        args.file
            .parent()
            .unwrap_or(Path::new(""))
            .join("latchkey.master.key")
    });
    for path in [&args.file, &key_path] {
        if path.exists() {
            bail!("{} already exists; not overwriting it", path.display());
        }
    }
    let mut probe = Settings {
        issuer: args.issuer.clone(),
        ..Settings::default()
    };
    probe.master_key_file = key_path.clone();
    probe.validate().context("invalid --issuer")?;
    let text = config_text(&args.issuer, &key_path);

    write_new(
        &key_path,
        format!("{}\n", MasterKey::generate().to_base64()),
        0o600,
    )
    .with_context(|| format!("failed to write {}", key_path.display()))?;
    if let Err(e) = write_new(&args.file, text, 0o640) {
        // Neither file, rather than a key without the configuration that names it.
        let _ = std::fs::remove_file(&key_path);
        return Err(e).with_context(|| format!("failed to write {}", args.file.display()));
    }
    out!(
        "wrote {} and {} (mode 0600)",
        args.file.display(),
        key_path.display()
    );
    out!("keep a copy of the master key: it decrypts the signing keys and client secrets");
    out!(
        "next: edit the file, then run `latchkey --config {} serve`",
        args.file.display()
    );
    Ok(())
}

/// Creates the file (never replaces one) with the given Unix mode.
fn write_new(path: &Path, contents: String, mode: u32) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// The configuration file: every value that differs from the built-in defaults for
/// production, the rest as commented defaults taken from `Settings::default()` so that the
/// file never disagrees with the code.
pub fn config_text(issuer: &url::Url, master_key_file: &Path) -> String {
    let d = Settings::default();
    let t = &d.tokens;
    let k = &d.keys;
    let l = &d.login;
    let issuer = issuer.as_str().trim_end_matches('/');
    let key = toml_string(&master_key_file.display().to_string());
    format!(
        r##"# Latchkey configuration, written by `latchkey init`. All settings and their
# LATCHKEY_* environment variables: docs/configuration.md. Environment variables override
# this file. Times are in seconds.

# The public base URL, as browsers and clients reach it (through your proxy). https only in
# production: cookies are then Secure and __Host- prefixed.
issuer = "{issuer}"

# Behind a reverse proxy or in a container; use 127.0.0.1:8080 to accept local connections only.
listen = "0.0.0.0:8080"

# SQLite file for one node; for several nodes use PostgreSQL:
#   database_url = "postgres://latchkey:PASSWORD@db.internal:5432/latchkey"
# (or set LATCHKEY_DATABASE_URL, so the password is not in this file).
database_url = "sqlite://latchkey.db?mode=rwc"
database_max_connections = {max_conn}

# The master key encrypts the signing keys and keys the hashes of client secrets. Every node
# needs the same key; back it up. LATCHKEY_MASTER_KEY (base64) takes precedence over the file.
master_key_file = {key}

[tokens]
access_token_ttl = {att}
access_token_alg = "{alg}"            # RS256, ES256 or EdDSA
# default_audience = "https://api.example.com"
authorization_code_ttl = {act}
id_token_ttl = {idt}
refresh_token_ttl = {rtt}         # sliding: each rotation starts a new period
refresh_token_grace = {rtg}
session_ttl = {st}                # sign-in session at Latchkey
interaction_ttl = {it}
client_assertion_max_lifetime = {cam}
clock_skew = {cs}
purge_interval = {pi}
logout_outbox_interval = {loi}    # back-channel logouts queued by the CLI

[keys]
reload_interval = {ri}
retired_key_retention = {rkr}     # keep above the longest token lifetime
jwks_max_age = {jma}
rotation_delay = {rd}
client_jwks_min_refetch = {cjm}

[login]
max_failures = {mf}                   # failed sign-ins per username within the window
failure_window = {fw}
# require_two_factor = true           # every sign-in needs an authenticator code or passkey

[http]
# The reverse proxies whose X-Forwarded-For is believed, e.g. ["10.0.0.0/8"]. Leave empty
# when clients connect directly.
trusted_proxies = []

[log]
filter = "info"
format = "json"                   # one JSON object per line, for log collectors

[branding]
# How the sign-in pages look; docs/branding.md. Colours are #rgb or #rrggbb, and start-up
# warns when text on them would fail WCAG AA contrast.
product_name = "Latchkey"
# logo = "/etc/latchkey/logo.svg"   # or an https:// URL
# primary_color = "#4338ca"
# background_color = "#f3f4f7"
# assets_dir = "/etc/latchkey/branding"
# stylesheet = "brand.css"           # a file in assets_dir, loaded after the built-in styles

[passkeys]
# Passkeys (WebAuthn) on the login and account pages; docs/accounts.md (Passkeys). The relying party
# id is the issuer's host: changing it later makes registered passkeys unusable. Unset,
# passkeys are on when the issuer can be a relying party (https with a domain name).
# enabled = true
ceremony_ttl = {pct}

# [forward_auth]
# /forward-auth for API gateways (nginx auth_request, Traefik ForwardAuth, Envoy ext_authz);
# docs/gateways.md. The gateway's address must be in http.trusted_proxies.
# allowed_redirect_domains = [".example.com"]   # where browsers may be sent back to
# sign_in_url = "https://portal.example.com/sign-in"   # unset: Latchkey's own /signin
# claim_headers = {{ auth_time = "X-Auth-Time" }}
#
# [[forward_auth.rules]]                        # longest matching path_prefix wins
# host = "api.example.com"
# path_prefix = "/orders"
# scopes = ["orders:read"]
# audiences = ["https://api.example.com"]
# session = "deny"                              # or "allow", "redirect"

# [session]
# Share the session cookie with sibling hosts behind a gateway (session rules of
# forward_auth). Every host under the domain receives it: choose the narrowest.
# cookie_domain = "example.com"

# [[token_exchange.trusted_issuers]]
# Another issuer whose access tokens clients may exchange (RFC 8693), each client only when
# its policy names it (clients exchange-policy --exchange-issuer); docs/token-exchange.md.
# issuer = "https://idp.partner.example"
# jwks_uri = "https://idp.partner.example/jwks"
# algorithms = ["RS256", "ES256"]
# audience = "https://login.example.com"         # aud must contain it
# token_types = ["at+jwt"]                       # accepted header typ
# subject = "prefix"                             # or "as_is", "local_user"
# subject_prefix = "partner:"
"##,
        max_conn = d.database_max_connections,
        att = t.access_token_ttl,
        alg = t.access_token_alg.as_str(),
        act = t.authorization_code_ttl,
        idt = t.id_token_ttl,
        rtt = t.refresh_token_ttl,
        rtg = t.refresh_token_grace,
        st = t.session_ttl,
        it = t.interaction_ttl,
        cam = t.client_assertion_max_lifetime,
        cs = t.clock_skew,
        pi = t.purge_interval,
        loi = t.logout_outbox_interval,
        ri = k.reload_interval,
        rkr = k.retired_key_retention,
        jma = k.jwks_max_age,
        rd = k.rotation_delay,
        cjm = k.client_jwks_min_refetch,
        mf = l.max_failures,
        fw = l.failure_window,
        pct = d.passkeys.ceremony_ttl,
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_file_loads_as_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("latchkey.toml");
        let key = dir.path().join("odd \"name\".key");
        let issuer = url::Url::parse("https://login.acme.example").unwrap();
        std::fs::write(&file, config_text(&issuer, &key)).unwrap();

        let s = Settings::load(Some(&file)).expect("the file loads");

        assert_eq!(s.issuer_str(), "https://login.acme.example");
        assert_eq!(s.master_key_file, key);
        assert_eq!(s.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(s.log.format, "json");
        let d = Settings::default();
        assert_eq!(s.tokens.refresh_token_ttl, d.tokens.refresh_token_ttl);
        assert_eq!(s.keys.rotation_delay, d.keys.rotation_delay);
        assert_eq!(s.branding.product_name, "Latchkey");
    }
}
