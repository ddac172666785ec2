//! Encryption at rest for plugin secrets (API keys, robot tokens): XChaCha20-Poly1305 with one
//! data key per installation, a random nonce per value, and the owning row's identity as
//! associated data, so a sealed value copied onto another tenant's row does not open.
//!
//! The key comes from `RAPPORT_SECRET_KEY` (base64 of 32 bytes) or, by default, from
//! `secret.key` in the data directory, created on first start with owner-only permissions.
//! Every replica must use the same key.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const KEY_FILE: &str = "secret.key";
const SEALED_PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("cannot read or create the secret key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    /// Wrong key, tampered value, or a value sealed for another row.
    #[error("a sealed secret does not open with this key")]
    Unsealable,
}

/// Seals and opens secret values. Holds the key; never prints it.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box from a base64-encoded 32-byte key.
    pub fn from_base64(key: &str) -> Result<SecretBox, SecretError> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| SecretError::BadKey)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?;
        Ok(SecretBox { cipher })
    }

    /// A box with a fresh random key, for tests and throwaway servers.
    pub fn random() -> SecretBox {
        SecretBox::from_base64(&generate_key()).expect("a generated key is valid")
    }

    /// The key from `RAPPORT_SECRET_KEY` when set, else the data directory's key file (created
    /// on first use).
    pub fn load_or_create(data_dir: &Path) -> Result<SecretBox, SecretError> {
        if let Ok(key) = std::env::var("RAPPORT_SECRET_KEY")
            && !key.is_empty()
        {
            return SecretBox::from_base64(&key);
        }
        let path = data_dir.join(KEY_FILE);
        let key_file_error = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(key) => SecretBox::from_base64(&key),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = generate_key();
                write_private(&path, &key).map_err(key_file_error)?;
                SecretBox::from_base64(&key)
            }
            Err(error) => Err(key_file_error(error)),
        }
    }

    /// Encrypts `plaintext` bound to `context` (e.g. `tenant-plugin:3:acme.sms`).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0_u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let nonce = XNonce::from(nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("encryption into a Vec cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(sealed))
    }

    /// Decrypts a value sealed for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretError> {
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .filter(|bytes| bytes.len() > NONCE_BYTES)
            .ok_or(SecretError::Unsealable)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::Unsealable)?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Unsealable)
    }
}

/// A new random key, base64-encoded.
pub fn generate_key() -> String {
    let mut key = [0_u8; 32];
    rand::rng().fill_bytes(&mut key);
    STANDARD.encode(key)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let secrets = SecretBox::random();
        let sealed = secrets.seal(b"sk-live-123", "tenant-plugin:1:acme");
        assert!(!sealed.contains("sk-live-123"));
        assert_eq!(
            secrets.open(&sealed, "tenant-plugin:1:acme").unwrap(),
            b"sk-live-123"
        );
        assert!(secrets.open(&sealed, "tenant-plugin:2:acme").is_err());
        assert!(
            SecretBox::random()
                .open(&sealed, "tenant-plugin:1:acme")
                .is_err()
        );
        assert!(secrets.open("v1:AAAA", "x").is_err());
        assert_ne!(sealed, secrets.seal(b"sk-live-123", "tenant-plugin:1:acme"));
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load_or_create(dir.path()).unwrap();
        let sealed = first.seal(b"x", "c");
        let second = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(second.open(&sealed, "c").unwrap(), b"x");
        assert!(SecretBox::from_base64("c2hvcnQ=").is_err());
    }
}
