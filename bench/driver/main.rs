//! The Rust half of `bench/run` (built as the example `bench-driver`):
//!
//! * `ceilings`: what one core of this machine can do with the server's own primitives, so
//!   the server's throughput can be given as a ratio: RS256 / ES256 / EdDSA signatures per
//!   second with aws-lc-rs and the key types Latchkey generates (RSA 2048, P-256, Ed25519),
//!   and argon2id verifications per second with Latchkey's `PasswordHasher` (m = 19 MiB,
//!   t = 2, p = 1).
//! * `signins`: complete sign-ins against a running server, each virtual user with its own
//!   cookie-jar HTTP client: `/authorize` (login page), `POST /login` (password, consent
//!   already remembered), the redirect with the code, and the code exchange at `/token`.
//!
//! * `wait-ready`: the moment a freshly spawned server first answers `/readyz` with 200.
//!
//! Each figure is printed as one `BENCH_RESULT key=value ...` line on stdout; progress and
//! errors go to stderr. Only loopback URLs are accepted.
mod ceilings;
mod ready;
mod signins;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Latchkey benchmark driver (used by bench/run)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Single-thread signature and argon2id verification rates.
    Ceilings {
        /// Seconds per primitive.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Only this primitive (RS256, ES256, EdDSA or argon2id); all by default.
        #[arg(long)]
        only: Option<ceilings::Primitive>,
        /// One thread only, not also every core at once.
        #[arg(long)]
        one_thread: bool,
    },
    /// Complete sign-ins per second against a running server.
    Signins(signins::Options),
    /// Waits for the first 200 from `--url` and prints when it came.
    WaitReady {
        #[arg(long)]
        url: url::Url,
        /// Seconds to wait at most.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ceilings {
            seconds,
            only,
            one_thread,
        } => ceilings::run(seconds, only, one_thread),
        Command::Signins(opts) => signins::run(opts),
        Command::WaitReady { url, timeout } => ready::run(&url, timeout),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-driver: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
