//! `latchkey clients ...`
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::admin_err;
use super::output::{field, table, time, yes_no};
use crate::admin::clients::{self, NewClient};
use crate::admin::exchange::{self, NewExchangePolicy};
use crate::config::Settings;
use crate::oauth::model::{Client, ExchangePolicy};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client. A secret-based client registered without --secret gets a
    /// generated secret, printed once.
    Create(Box<CreateArgs>),
    /// List registered clients.
    List,
    /// Show every setting of one client (never its secret).
    Show {
        /// The client id.
        id: String,
    },
    /// Delete a client with its grants, tokens and consents.
    Delete {
        /// The client id.
        id: String,
    },
    /// Change settings of a registered client.
    Update {
        /// The client id.
        id: String,
        /// People must sign in with two factors to get tokens for this client.
        #[arg(long, conflicts_with = "no_require_two_factor")]
        require_two_factor: bool,
        /// Stop requiring two factors for this client (the global
        /// `login.require_two_factor` still applies).
        #[arg(long)]
        no_require_two_factor: bool,
    },
    /// Replace the client's secret with a new generated one, printed once. The old secret
    /// stops working at once.
    RotateSecret {
        /// The client id.
        id: String,
    },
    /// Set the client's token exchange (RFC 8693) policy, replacing the old one; with no
    /// --exchange-* flag, remove it (the client may then not exchange tokens).
    ExchangePolicy {
        /// The client id.
        id: String,
        #[command(flatten)]
        policy: ExchangeArgs,
    },
}

/// A token exchange (RFC 8693) policy.
#[derive(Debug, Args)]
pub struct ExchangeArgs {
    /// A downstream audience (a name or URI) the client may exchange a user's access token
    /// for; repeat for several. Needed for token exchange.
    #[arg(long = "exchange-audience", value_name = "AUD")]
    pub exchange_audience: Vec<String>,
    /// A scope the client may pass on by exchange (also limited by the subject token's
    /// scopes); repeat or separate with spaces.
    #[arg(long = "exchange-scope", value_name = "SCOPE")]
    pub exchange_scope: Vec<String>,
    /// Exchanged tokens may omit the `act` claim naming the client (impersonation) when
    /// the client sends no actor_token. Without this, every exchanged token names it.
    #[arg(long)]
    pub may_impersonate: bool,
    /// An issuer whose access tokens the client may present as subject tokens: this
    /// server's issuer or one of `token_exchange.trusted_issuers`; repeat for several.
    /// Without it, only this server's own tokens.
    #[arg(long = "exchange-issuer", value_name = "ISSUER")]
    pub exchange_issuer: Vec<String>,
}

impl ExchangeArgs {
    fn into_new(self) -> NewExchangePolicy {
        NewExchangePolicy {
            audiences: self.exchange_audience,
            scopes: self.exchange_scope,
            may_impersonate: self.may_impersonate,
            issuers: self.exchange_issuer,
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Client identifier (visible ASCII, no ':').
    #[arg(long)]
    pub id: String,
    /// Client secret of your choosing (at least 16 characters); generated when omitted.
    #[arg(long)]
    pub secret: Option<String>,
    /// Display name shown on the consent page (default: the id).
    #[arg(long)]
    pub name: Option<String>,
    /// Redirect URI, matched exactly; repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uri: Vec<String>,
    /// Where the browser may be sent after RP-Initiated Logout, matched exactly; repeat
    /// for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uri: Vec<String>,
    /// Where logout tokens are posted when a session the client got tokens in ends
    /// (OpenID Connect Back-Channel Logout; https, or http to a loopback host).
    #[arg(long = "backchannel-logout-uri", value_name = "URI")]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens (Latchkey always sends it).
    #[arg(long = "backchannel-logout-session-required")]
    pub backchannel_logout_session_required: bool,
    /// authorization_code, refresh_token or client_credentials; repeat for several
    /// (default: authorization_code + refresh_token with redirect URIs, else
    /// client_credentials).
    #[arg(long = "grant-type", value_name = "TYPE")]
    pub grant_type: Vec<String>,
    /// Scopes the client may request; repeat or separate with spaces (default for
    /// authorization_code: openid profile email offline_access).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// A public client (browser or native app): no secret, PKCE required.
    #[arg(long)]
    pub public: bool,
    /// client_secret_basic (default), client_secret_post, private_key_jwt or none.
    #[arg(long, value_name = "METHOD")]
    pub auth_method: Option<String>,
    /// Where the client publishes its public keys (private_key_jwt).
    #[arg(long, value_name = "URI", conflicts_with = "jwks_file")]
    pub jwks_uri: Option<String>,
    /// A JWK Set file with the client's public keys (private_key_jwt).
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Resource (RFC 8707) the client may request tokens for; repeat for several
    /// (default: any).
    #[arg(long, value_name = "URI")]
    pub audience: Vec<String>,
    /// Signing algorithm of this client's access tokens: RS256, ES256 or EdDSA.
    #[arg(long, value_name = "ALG")]
    pub access_token_alg: Option<String>,
    /// Signing algorithm of this client's ID tokens: RS256, ES256 or EdDSA.
    #[arg(long, value_name = "ALG")]
    pub id_token_alg: Option<String>,
    /// Trusted first-party client: users are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    /// Do not require PKCE (legacy confidential clients only).
    #[arg(long)]
    pub no_pkce: bool,
    /// Issue refresh tokens even when the app does not ask for offline_access.
    #[arg(long)]
    pub always_issue_refresh_token: bool,
    /// People must sign in with two factors (a password and an authenticator code or
    /// passkey) to get tokens for this client.
    #[arg(long)]
    pub require_two_factor: bool,
    #[command(flatten)]
    pub exchange: ExchangeArgs,
}

pub async fn run(cmd: ClientsCommand, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        ClientsCommand::Create(args) => {
            warn_unknown_issuers(&args.exchange.exchange_issuer, settings);
            create(*args, store).await
        }
        ClientsCommand::List => {
            let list = clients::list(store).await.map_err(admin_err)?;
            if list.is_empty() {
                eprintln!("no clients registered");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.name.clone(),
                        c.auth_method.to_string(),
                        join(c.grant_types.iter(), ","),
                    ]
                })
                .collect();
            table(&["ID", "NAME", "AUTH METHOD", "GRANT TYPES"], &rows);
            Ok(())
        }
        ClientsCommand::Show { id } => {
            let client = clients::get(store, &id).await.map_err(admin_err)?;
            print_client(&client);
            Ok(())
        }
        ClientsCommand::Delete { id } => {
            clients::delete(store, &id).await.map_err(admin_err)?;
            out!("deleted client {id}");
            Ok(())
        }
        ClientsCommand::Update {
            id,
            require_two_factor,
            no_require_two_factor,
        } => {
            let change = clients::ClientUpdate {
                require_two_factor: match (require_two_factor, no_require_two_factor) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            let client = clients::update(store, &id, &change)
                .await
                .map_err(admin_err)?;
            out!("updated client {id}");
            print_client(&client);
            Ok(())
        }
        ClientsCommand::RotateSecret { id } => {
            let secret = clients::rotate_secret(store, &id)
                .await
                .map_err(admin_err)?;
            out!("rotated the secret of client {id}; the old secret no longer works");
            print_secret(&secret);
            Ok(())
        }
        ClientsCommand::ExchangePolicy { id, policy } => {
            warn_unknown_issuers(&policy.exchange_issuer, settings);
            let set = exchange::set_policy(store, &id, &policy.into_new())
                .await
                .map_err(admin_err)?;
            match set {
                Some(p) => {
                    out!("set the token exchange policy of client {id}");
                    print_exchange(Some(&p));
                }
                None => out!("removed the token exchange policy of client {id}"),
            }
            Ok(())
        }
    }
}

async fn create(args: CreateArgs, store: &Store) -> anyhow::Result<()> {
    let jwks_file_contents = match &args.jwks_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("failed to read JWKS file {}", path.display()))?,
        ),
        None => None,
    };
    let new = NewClient {
        id: args.id,
        secret: args.secret,
        name: args.name,
        redirect_uris: args.redirect_uri,
        post_logout_redirect_uris: args.post_logout_redirect_uri,
        backchannel_logout_uri: args.backchannel_logout_uri,
        backchannel_logout_session_required: args.backchannel_logout_session_required,
        grant_types: args.grant_type,
        scopes: args.scope,
        public: args.public,
        auth_method: args.auth_method,
        jwks_uri: args.jwks_uri,
        jwks_file_contents,
        audiences: args.audience,
        access_token_alg: args.access_token_alg,
        id_token_alg: args.id_token_alg,
        first_party: args.first_party,
        no_pkce: args.no_pkce,
        always_issue_refresh_token: args.always_issue_refresh_token,
        require_two_factor: args.require_two_factor,
        exchange: args.exchange.into_new(),
    };
    let created = clients::create(store, new).await.map_err(admin_err)?;
    out!("created client {}", created.client.id);
    print_client(&created.client);
    if let Some(secret) = &created.generated_secret {
        print_secret(secret);
    }
    Ok(())
}

fn print_secret(secret: &str) {
    out!();
    out!("client_secret: {secret}");
    out!("note: this secret is shown only now and is stored only as a hash; keep it safe.");
}

fn print_client(c: &Client) {
    let or = |s: String, empty: &str| if s.is_empty() { empty.to_owned() } else { s };
    field("client_id", &c.id);
    field("name", &c.name);
    field(
        "type",
        if c.is_public() {
            "public"
        } else {
            "confidential"
        },
    );
    field("auth_method", c.auth_method);
    // Not labelled `client_secret`: scripts look for that label to find a new secret.
    field(
        "secret",
        if c.secret_hash.is_some() {
            "set (stored as a hash)"
        } else {
            "none"
        },
    );
    field("grant_types", join(c.grant_types.iter(), " "));
    uri_list("redirect_uris", &c.redirect_uris);
    uri_list("post_logout_redirect_uris", &c.post_logout_redirect_uris);
    field("scope", or(c.scope.to_string(), "(none)"));
    field(
        "audiences",
        or(join(c.audiences.iter().map(|a| a.as_str()), " "), "(any)"),
    );
    if let Some(uri) = &c.jwks_uri {
        field("jwks_uri", uri);
    }
    if let Some(jwks) = &c.jwks {
        field("jwks", jwks);
    }
    let alg = |a: Option<crate::domain::SigningAlg>| {
        a.map_or_else(|| "(server default)".to_owned(), |a| a.to_string())
    };
    field("access_token_alg", alg(c.access_token_alg));
    field("id_token_alg", alg(c.id_token_alg));
    field("first_party", yes_no(c.first_party));
    field("require_pkce", yes_no(c.require_pkce));
    field(
        "always_issue_refresh_token",
        yes_no(c.always_issue_refresh_token),
    );
    field("require_two_factor", yes_no(c.require_two_factor));
    print_exchange(c.exchange.as_ref());
    field("created_at", time(c.created_at));
}

/// An issuer that is neither this server nor configured in `token_exchange.trusted_issuers`
/// is stored (the configuration may be changed later), but its tokens are refused until then.
fn warn_unknown_issuers(issuers: &[String], settings: &Settings) {
    let own = settings.issuer_str();
    let trusted = &settings.token_exchange.trusted_issuers;
    for i in issuers {
        if *i != own && !trusted.iter().any(|t| t.issuer == *i) {
            eprintln!(
                "warning: {i} is neither this server's issuer ({own}) nor in token_exchange.trusted_issuers; its tokens are refused until it is configured"
            );
        }
    }
}

fn print_exchange(p: Option<&ExchangePolicy>) {
    let Some(p) = p else {
        field("token_exchange", "no");
        return;
    };
    field("exchange_audiences", p.audiences.join(" "));
    let scope = p.scope.to_string();
    field(
        "exchange_scope",
        if scope.is_empty() { "(none)" } else { &scope },
    );
    field("may_impersonate", yes_no(p.may_impersonate));
    field(
        "exchange_issuers",
        if p.subject_issuers.is_empty() {
            "(this server only)".to_owned()
        } else {
            p.subject_issuers.join(" ")
        },
    );
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>, sep: &str) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// One labelled line per URI, or "(none)".
fn uri_list(label: &str, uris: &[crate::domain::RedirectUri]) {
    match uris.split_first() {
        None => field(label, "(none)"),
        Some((first, rest)) => {
            field(label, first);
            for uri in rest {
                field("", uri);
            }
        }
    }
}
