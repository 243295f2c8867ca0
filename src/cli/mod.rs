//! The `latchkey` command line: argument parsing (clap) and printing. The work itself is
//! done by `admin` (clients, users), `keys` (rotation) and `startup` (the server).
//!
//! Every command except `serve` opens the database, applies pending migrations (so a fresh
//! `sqlite://` file just works) and closes it again. Errors come back to `main` as one
//! `anyhow::Error`, printed as a single `error: ...` line with exit status 1; clap itself
//! exits with status 2 on usage errors.
/// `println!` that ends the process quietly when the reader has gone away (`| head`)
/// instead of panicking on the broken pipe.
macro_rules! out {
    () => {
        $crate::cli::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_line(format_args!($($arg)*))
    };
}

mod clients;
mod demo;
mod init;
mod keys;
mod output;
mod users;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::admin::AdminError;
use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "An OAuth 2.0 / OpenID Connect authorization server",
    after_help = "Without a command, `latchkey` runs the server (`latchkey serve`). \
                  To try it: `latchkey demo`.\n\
                  Settings come from defaults, then --config, then LATCHKEY_* environment variables \
                  (e.g. LATCHKEY_DATABASE_URL, LATCHKEY_ISSUER, LATCHKEY_LISTEN)."
)]
pub struct Cli {
    /// TOML configuration file; LATCHKEY_* environment variables override it.
    #[arg(long, global = true, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented configuration file and a new master key file (never overwrites).
    Init(init::InitArgs),
    /// Run the HTTP server (the default).
    Serve,
    /// Run the server with a demo user, a demo client and a demo app on a second local port
    /// (never in production).
    Demo(demo::DemoArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Register and manage OAuth clients.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage end-user accounts.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Inspect and rotate the token signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// Runs the parsed command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // `init` writes the configuration, so it must not need one.
    let command = match cli.command.unwrap_or(Command::Serve) {
        Command::Init(args) => return init::run(args),
        other => other,
    };
    let settings = Settings::load(cli.config.as_deref())?;
    match command {
        Command::Serve => {
            let _log = crate::telemetry::init(&settings.log, true);
            crate::startup::serve(settings).await
        }
        Command::Demo(args) => {
            let _log = crate::telemetry::init(&settings.log, true);
            demo::run(args, settings).await
        }
        command => {
            // Operator commands print their own results; only warnings, errors and the
            // audit record of what they changed are logged (RUST_LOG still overrides).
            let mut log = settings.log.clone();
            log.filter = "warn,audit=info".into();
            let _log = crate::telemetry::init(&log, false);
            run_admin(command, &settings).await
        }
    }
}

async fn run_admin(command: Command, settings: &Settings) -> anyhow::Result<()> {
    let master = match command {
        // Migrations touch no secret, so they must not create a master key file as a side
        // effect; a throwaway key satisfies the store.
        Command::Migrate => MasterKey::generate(),
        _ => load_master_key(settings)?,
    };
    let store = Store::connect(settings, &master).await?;
    store.migrate().await?;
    let result = match command {
        Command::Serve | Command::Init(_) | Command::Demo(_) => unreachable!("handled by run"),
        Command::Migrate => {
            out!("database schema is up to date");
            Ok(())
        }
        Command::Clients(cmd) => clients::run(cmd, &store, settings).await,
        Command::Users(cmd) => users::run(cmd, &store).await,
        Command::Keys(cmd) => keys::run(cmd, &store, settings, master).await,
    };
    let closed = store.close().await;
    result.and(closed)
}

/// The master key, saying so when a new key file is created: client secrets and signing
/// keys written now are bound to it, so the server must be given the same key.
fn load_master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    let creating = settings.master_key.is_none() && !settings.master_key_file.exists();
    let key = settings.master_key()?;
    if creating {
        eprintln!(
            "note: created a new master key file {}; every server node must use this same key",
            settings.master_key_file.display()
        );
    }
    Ok(key)
}

/// Keeps the one-line message of an operator error; an internal error keeps its context
/// chain (printed with `{:#}` by `main`).
fn admin_err(e: AdminError) -> anyhow::Error {
    match e {
        AdminError::Internal(inner) => inner,
        other => anyhow::Error::new(other),
    }
}

/// Reads a password that was not given on the command line: with a prompt (twice, no echo)
/// on a terminal, else one line from standard input.
fn read_password(given: Option<String>) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if let Some(p) = given {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password("Password: ").context("failed to read the password")?;
        let again = rpassword::prompt_password("Repeat password: ")
            .context("failed to read the password")?;
        if first != again {
            anyhow::bail!("the passwords do not match");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        let n = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from standard input")?;
        if n == 0 {
            anyhow::bail!("no password on standard input");
        }
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        Ok(trimmed.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::try_parse_from(["latchkey"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn config_is_global_and_scopes_repeat() {
        let cli = Cli::try_parse_from([
            "latchkey",
            "clients",
            "create",
            "--id",
            "web",
            "--scope",
            "openid email",
            "--scope",
            "orders:read",
            "--redirect-uri",
            "https://a.example/cb",
            "--config",
            "x.toml",
        ])
        .unwrap();
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("x.toml")));
        match cli.command {
            Some(Command::Clients(clients::ClientsCommand::Create(a))) => {
                assert_eq!(a.scope, vec!["openid email", "orders:read"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn jwks_uri_and_file_conflict() {
        let err = Cli::try_parse_from([
            "latchkey",
            "clients",
            "create",
            "--id",
            "x",
            "--jwks-uri",
            "https://a/j",
            "--jwks-file",
            "k.json",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
