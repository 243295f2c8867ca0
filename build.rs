//! Link options of the `latchkey` binary (nothing is generated).
//!
//! On Linux with glibc: packed relative relocations (`-z pack-relative-relocs`, DT_RELR;
//! glibc 2.36 and binutils 2.38 or later). A position-independent Rust binary carries one
//! 24-byte relocation record for every pointer in its read-only data (vtables, string
//! tables); the loader reads all of them at start, so they were resident in every running
//! server. Packed, the same relocations take a few kilobytes (docs/performance.md, idle
//! RSS). Set `LATCHKEY_NO_RELR=1` to build for an older glibc.
//!
//! Release builds on x86-64 Linux with Rust's own linker (rust-lld, the default since Rust
//! 1.90) also lay out functions in the order of `bench/symbol-order.txt`: the functions a
//! running server executes, hottest first, written by `bench/symbol-order`. They then sit
//! together in a few megabytes at the start of `.text` instead of being spread over all of
//! it, so the pages of code that never runs (most of the CLI, error paths, unused library
//! code) are never mapped: idle RSS falls by several MiB. Functions not in the list are laid
//! out after it as usual, so a stale list costs memory, never correctness. Set
//! `LATCHKEY_NO_SYMBOL_ORDER=1` to link without it (needed with another linker).
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LATCHKEY_NO_RELR");
    println!("cargo:rerun-if-env-changed=LATCHKEY_NO_SYMBOL_ORDER");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let opted_out = |name: &str| std::env::var_os(name).is_some_and(|v| v == "1");
    let linux_gnu = env("CARGO_CFG_TARGET_OS") == "linux" && env("CARGO_CFG_TARGET_ENV") == "gnu";
    if linux_gnu && !opted_out("LATCHKEY_NO_RELR") {
        println!("cargo:rustc-link-arg-bin=latchkey=-Wl,-z,pack-relative-relocs");
    }

    let order = Path::new(&env("CARGO_MANIFEST_DIR")).join("bench/symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    // rust-lld is the default linker only for this target and only since Rust 1.90 (before,
    // the system's `ld` through `cc`, which does not know the option); a linker chosen
    // through the flags may not know it either.
    // (The compiler is asked for its version last, and only for release builds.)
    if env("PROFILE") == "release"
        && order.is_file()
        && !opted_out("LATCHKEY_NO_SYMBOL_ORDER")
        && env("TARGET") == "x86_64-unknown-linux-gnu"
        && !env("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && rustc_minor().is_some_and(|minor| minor >= 90)
    {
        println!(
            "cargo:rustc-link-arg-bin=latchkey=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=latchkey=-Wl,--no-warn-symbol-ordering");
    }
}

/// The minor version of the compiler (`rustc 1.95.0 (...)` -> 95).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}
