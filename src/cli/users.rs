//! `latchkey users ...`
use clap::{Args, Subcommand};

use super::output::{table, time};
use super::{admin_err, read_password};
use crate::admin::users::{self, NewUser};
use crate::oauth::ports::UserRepository;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user. Without --password, the password is prompted for on a terminal or
    /// read as one line from standard input.
    Create(CreateArgs),
    /// List users.
    List,
    /// Delete a user with its sessions, consents and grants; a running server sends the
    /// back-channel logouts of the ended sessions.
    Delete { username: String },
    /// Set a user's password and end all of their sessions. Without --password, it is
    /// prompted for on a terminal or read as one line from standard input.
    SetPassword {
        username: String,
        /// The new password (visible in the process list and shell history; prefer the prompt).
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// 1 to 64 characters of letters, digits and . _ @ -
    #[arg(long)]
    pub username: String,
    /// 8 to 1024 characters (visible in the process list and shell history; prefer the prompt).
    #[arg(long)]
    pub password: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Mark the email address as verified (the `email_verified` claim).
    #[arg(long, requires = "email")]
    pub email_verified: bool,
    /// Full name (the `name` claim).
    #[arg(long)]
    pub name: Option<String>,
}

pub async fn run(cmd: UsersCommand, store: &Store) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Create(args) => {
            // Check the username first, so a typo fails before the password prompt.
            users::validate_username(&args.username).map_err(admin_err)?;
            let password = read_password(args.password)?;
            let user = users::create(
                store,
                NewUser {
                    username: args.username,
                    password,
                    email: args.email,
                    email_verified: args.email_verified,
                    name: args.name,
                },
            )
            .await
            .map_err(admin_err)?;
            out!("created user {} (sub {})", user.username, user.id);
            Ok(())
        }
        UsersCommand::List => {
            let list = users::list(store).await.map_err(admin_err)?;
            if list.is_empty() {
                eprintln!("no users");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .into_iter()
                .map(|r| {
                    let u = r.user;
                    let email = match (u.email, u.email_verified) {
                        (Some(e), true) => format!("{e} (verified)"),
                        (Some(e), false) => e,
                        (None, _) => "-".into(),
                    };
                    vec![
                        u.username,
                        u.id,
                        email,
                        u.name.unwrap_or_else(|| "-".into()),
                        time(r.created_at),
                    ]
                })
                .collect();
            table(&["USERNAME", "ID (SUB)", "EMAIL", "NAME", "CREATED"], &rows);
            Ok(())
        }
        UsersCommand::Delete { username } => {
            users::delete(store, &username).await.map_err(admin_err)?;
            out!("deleted user {username}");
            Ok(())
        }
        UsersCommand::SetPassword { username, password } => {
            if store.find_user_by_username(&username).await?.is_none() {
                anyhow::bail!("user {username} does not exist");
            }
            let password = read_password(password)?;
            users::set_password(store, &username, &password)
                .await
                .map_err(admin_err)?;
            out!("password of user {username} changed; their sessions have ended");
            Ok(())
        }
    }
}
