use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{b64url, b64url_decode, random_bytes};

/// The 256-bit key that encrypts private signing keys at rest and from which the keyed
/// hash key is derived. Every node of a cluster must be given the same master key.
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Self {
        Self(random_bytes::<32>())
    }

    /// Parses standard or URL-safe base64 of exactly 32 bytes.
    pub fn from_base64(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        let bytes = STANDARD
            .decode(s)
            .ok()
            .or_else(|| b64url_decode(s.trim_end_matches('=')))
            .context("master key is not valid base64")?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("master key must be 32 bytes (44 base64 characters)"))?;
        Ok(Self(arr))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key when it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text)
                .with_context(|| format!("failed to parse master key file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("failed to create directory {}", dir.display()))?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                match opts.open(path) {
                    Ok(mut f) => {
                        writeln!(f, "{}", key.to_base64()).with_context(|| {
                            format!("failed to write master key file {}", path.display())
                        })?;
                        tracing::info!(path = %path.display(), "generated a new master key file");
                        Ok(key)
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(e).with_context(|| {
                        format!("failed to create master key file {}", path.display())
                    }),
                }
            }
            Err(e) => {
                Err(e).with_context(|| format!("failed to read master key file {}", path.display()))
            }
        }
    }

    /// A purpose-bound subkey (HMAC-SHA256 of the label), so that the same master key
    /// never serves two purposes directly.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        let k = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&k, label);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The sealing half of the key alone, for components that seal and open values but
    /// must not derive other keys (the protocol core's authenticator secrets).
    pub fn sealer(&self) -> Sealer {
        Sealer(self.derive(b"latchkey/seal/v1"))
    }

    /// Encrypts with AES-256-GCM under a random nonce; `context` is bound as associated data
    /// (for example a key id), so a sealed value cannot be moved to another record.
    /// Output: base64url(nonce || ciphertext || tag).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        self.sealer().seal(plaintext, context)
    }

    pub fn open(&self, sealed: &str, context: &str) -> anyhow::Result<Vec<u8>> {
        self.sealer().open(sealed, context)
    }
}

/// AES-256-GCM sealing with the master key's sealing subkey: the envelope of every value
/// encrypted at rest (signing keys, authenticator secrets).
#[derive(Clone)]
pub struct Sealer([u8; 32]);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte AES key"))
    }

    /// See `MasterKey::seal`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let nonce_bytes = random_bytes::<12>();
        let mut buf = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for in-memory buffers");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        b64url(&out)
    }

    pub fn open(&self, sealed: &str, context: &str) -> anyhow::Result<Vec<u8>> {
        let raw = b64url_decode(sealed).context("sealed value is not base64url")?;
        if raw.len() < 12 + 16 {
            bail!("sealed value is too short");
        }
        let (nonce, ct) = raw.split_at(12);
        let mut buf = ct.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).context("bad nonce")?;
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| {
                anyhow::anyhow!(
                    "failed to decrypt a sealed value: wrong master key or corrupted data"
                )
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_context() {
        let k = MasterKey::generate();
        let sealed = k.seal(b"private key", "kid-1");
        assert_eq!(k.open(&sealed, "kid-1").unwrap(), b"private key");
        assert!(k.open(&sealed, "kid-2").is_err());
        assert!(MasterKey::generate().open(&sealed, "kid-1").is_err());
    }

    #[test]
    fn base64_round_trip() {
        let k = MasterKey::generate();
        let again = MasterKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(k.0, again.0);
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn creates_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/master.key");
        let a = MasterKey::load_or_create(&p).unwrap();
        let b = MasterKey::load_or_create(&p).unwrap();
        assert_eq!(a.0, b.0);
    }
}
