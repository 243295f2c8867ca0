//! Prints how many tokens per second `Verifier::verify` checks, for a token of a running
//! Latchkey server. Bounded: runs for `SECONDS` (default 3) on one task.
//!
//! ```sh
//! ISSUER=http://127.0.0.1:8080 AUDIENCE=https://orders.example.com TOKEN=eyJ... \
//!   cargo run --release -p latchkey-verify --example verify_bench
//! ```
use std::time::{Duration, Instant};

use latchkey_verify::{Verifier, VerifierConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("set {k}"));
    let (issuer, audience, token) = (var("ISSUER"), var("AUDIENCE"), var("TOKEN"));
    let seconds: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let verifier = Verifier::new(VerifierConfig::new(issuer, audience));
    let first = Instant::now();
    if let Err(e) = verifier.verify(&token).await {
        eprintln!("the token does not verify: {e}");
        std::process::exit(1);
    }
    println!(
        "first verification (discovery + JWKS fetch): {:?}",
        first.elapsed()
    );
    let end = Instant::now() + Duration::from_secs(seconds);
    let (start, mut n) = (Instant::now(), 0u64);
    while Instant::now() < end {
        verifier.verify(&token).await.expect("verifies");
        n += 1;
    }
    let per = start.elapsed() / n as u32;
    println!(
        "{n} verifications in {:?}: {per:?} each, {:.0}/s on one core; JWKS fetched {} time(s)",
        start.elapsed(),
        n as f64 / start.elapsed().as_secs_f64(),
        verifier.jwks_fetches()
    );
}
