//! Ceilings: how many signatures and argon2id verifications this machine does with the same
//! library, key types and parameters the server uses: on one thread (the figure the targets
//! are stated in) and on every core at once (what "2 x one thread" really is here: cores
//! that share caches, turbo budget or a hypervisor may give less).
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use latchkey::crypto::PasswordHasher;

/// A JWS signing input of the size of a client_credentials access token (header and claims,
/// base64url): the message the server signs per token.
const MESSAGE_LEN: usize = 330;
const PASSWORD: &str = "correct horse battery staple";

type Op = Box<dyn FnMut() -> anyhow::Result<()> + Send>;

/// The primitives measured: the three signature algorithms and the password check.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Primitive {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "argon2id")]
    Argon2id,
}

impl Primitive {
    const ALL: [Primitive; 4] = [Self::Rs256, Self::Es256, Self::EdDsa, Self::Argon2id];

    /// The name in the report, and the operation measured.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Rs256 => ("RS256", "sign"),
            Self::Es256 => ("ES256", "sign"),
            Self::EdDsa => ("EdDSA", "sign"),
            Self::Argon2id => ("argon2id", "verify"),
        }
    }
}

/// A fresh key (or hasher) and the operation on it, for one thread.
fn make_op(primitive: Primitive) -> anyhow::Result<Op> {
    let message = vec![b'e'; MESSAGE_LEN];
    let rng = SystemRandom::new();
    Ok(match primitive {
        Primitive::Rs256 => {
            let key = RsaKeyPair::generate(KeySize::Rsa2048).context("RSA key generation")?;
            let mut sig = vec![0; key.public_modulus_len()];
            Box::new(move || {
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
                    .map_err(|_| anyhow::anyhow!("RSA signing failed"))
            })
        }
        Primitive::Es256 => {
            let key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .context("P-256 key generation")?;
            Box::new(move || {
                let sig = key
                    .sign(&rng, &message)
                    .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?;
                std::hint::black_box(sig);
                Ok(())
            })
        }
        Primitive::EdDsa => {
            let key = Ed25519KeyPair::generate().context("Ed25519 key generation")?;
            Box::new(move || {
                std::hint::black_box(key.sign(&message));
                Ok(())
            })
        }
        // The server's own hasher (OWASP parameters), verifying a correct password: what a
        // successful sign-in costs.
        Primitive::Argon2id => {
            let hasher = PasswordHasher::default();
            let stored = hasher.hash(PASSWORD)?;
            Box::new(move || {
                anyhow::ensure!(
                    hasher.verify(PASSWORD, Some(&stored)),
                    "argon2id verification failed"
                );
                Ok(())
            })
        }
    })
}

/// Measures `only` (or every primitive), on one thread and, unless `one_thread`, on every
/// core at once.
pub fn run(seconds: f64, only: Option<Primitive>, one_thread: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        seconds > 0.0 && seconds <= 60.0,
        "--seconds must be in (0, 60]"
    );
    let budget = Duration::from_secs_f64(seconds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = if one_thread { 1 } else { cores };
    for primitive in Primitive::ALL {
        if only.is_some_and(|o| o != primitive) {
            continue;
        }
        let (name, op) = primitive.names();
        for threads in [1, cores] {
            let ops = (0..threads)
                .map(|_| make_op(primitive))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (n, secs) = measure(ops, budget)?;
            println!(
                "BENCH_RESULT figure=ceiling name={name} op={op} threads={threads} ops={n} seconds={secs:.3} per_sec={:.1} us_per_op={:.1}",
                n as f64 / secs,
                secs * 1e6 * threads as f64 / n as f64
            );
            if cores == 1 {
                break;
            }
        }
    }
    Ok(())
}

/// Runs each op on its own thread for `budget` (after a warm-up of a tenth of it); returns
/// the operations completed by all threads and the seconds measured.
fn measure(ops: Vec<Op>, budget: Duration) -> anyhow::Result<(u64, f64)> {
    let start = Instant::now() + budget / 10;
    let end = start + budget;
    let counts = std::thread::scope(|s| {
        let handles: Vec<_> = ops
            .into_iter()
            .map(|mut op| {
                s.spawn(move || -> anyhow::Result<u64> {
                    while Instant::now() < start {
                        op()?;
                    }
                    let mut n = 0;
                    while Instant::now() < end {
                        op()?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a ceiling thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<u64>>>()
    })?;
    Ok((counts.iter().sum(), budget.as_secs_f64()))
}
