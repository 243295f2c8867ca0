//! The `latchkey` binary: parses the command line and runs it; see `latchkey::cli`.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors end here, with clap's message and exit status 2.
    let cli = latchkey::cli::Cli::parse();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(latchkey::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
