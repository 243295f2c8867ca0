//! Link options of the `latchkey` binary (nothing is generated).
//!
//! On Linux with glibc: packed relative relocations (`-z pack-relative-relocs`, DT_RELR;
//! glibc 2.36 and binutils 2.38 or later). A position-independent Rust binary carries one
//! 24-byte relocation record for every pointer in its read-only data (vtables, string
//! tables); the loader reads all of them at start, so they were resident in every running
//! server. Packed, the same relocations take a few kilobytes (docs/performance.md, idle
//! RSS). Set `LATCHKEY_NO_RELR=1` to build for an older glibc.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LATCHKEY_NO_RELR");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let opted_out = std::env::var_os("LATCHKEY_NO_RELR").is_some_and(|v| v == "1");
    if target_os == "linux" && target_env == "gnu" && !opted_out {
        println!("cargo:rustc-link-arg-bin=latchkey=-Wl,-z,pack-relative-relocs");
    }
}
