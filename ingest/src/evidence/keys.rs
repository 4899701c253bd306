//! The custody signing key: Ed25519, created on first use as a PKCS#8 PEM file readable only by
//! its owner (0600), and refused if anyone else may read it. The public half is exported as an
//! SPKI PEM, the form `openssl pkeyutl -verify -pubin` reads.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::EvidenceError;

/// DER of a PKCS#8 Ed25519 private key (RFC 8410 §7), before the 32-byte seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), before the 32-byte key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The key that signs checkpoints.
pub struct CustodyKey {
    signing: SigningKey,
}

impl CustodyKey {
    /// Loads the key at `path`; fails if there is none (a key is only ever created by the
    /// serving process, at its first start).
    pub fn load(path: &Path) -> Result<CustodyKey, EvidenceError> {
        if !path.exists() {
            return Err(EvidenceError::NotFound(format!(
                "there is no custody key at {}: it is created when `triage serve` first starts",
                path.display()
            )));
        }
        Self::load_or_create(path)
    }

    /// Loads the key at `path`, creating it (and its folder) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<CustodyKey, EvidenceError> {
        let io = |what: &str, e: std::io::Error| {
            EvidenceError::Io(format!("{what} {}: {e}", path.display()))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path)?;
                let der = pem_decode(&text, "PRIVATE KEY").ok_or_else(|| {
                    EvidenceError::Key(format!(
                        "{} is not a PEM \"PRIVATE KEY\" block",
                        path.display()
                    ))
                })?;
                let seed = der
                    .strip_prefix(&PKCS8_PREFIX[..])
                    .filter(|s| s.len() == 32)
                    .ok_or_else(|| {
                        EvidenceError::Key(format!(
                            "{} is not an Ed25519 PKCS#8 key",
                            path.display()
                        ))
                    })?;
                let seed: [u8; 32] = seed.try_into().expect("length checked");
                Ok(CustodyKey {
                    signing: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| io("cannot create the folder of", e))?;
                }
                let mut seed = [0u8; 32];
                getrandom::getrandom(&mut seed)
                    .map_err(|e| EvidenceError::Key(format!("no randomness for a new key: {e}")))?;
                let mut der = PKCS8_PREFIX.to_vec();
                der.extend_from_slice(&seed);
                let pem = pem_encode(&der, "PRIVATE KEY");
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(path).map_err(|e| io("cannot create", e))?;
                f.write_all(pem.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| io("cannot write", e))?;
                Ok(CustodyKey {
                    signing: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) => Err(io("cannot read", e)),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// Refuses a private key file that group or others may read.
fn check_private(path: &Path) -> Result<(), EvidenceError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| EvidenceError::Io(format!("cannot stat {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(EvidenceError::Key(format!(
                "{} may be read by others (mode {:o}); run `chmod 600` on it",
                path.display(),
                mode & 0o777
            )));
        }
    }
    Ok(())
}

/// An Ed25519 public key, to verify checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.as_bytes());
        pem_encode(&der, "PUBLIC KEY")
    }

    pub fn from_pem(text: &str) -> Result<PublicKey, EvidenceError> {
        let der = pem_decode(text, "PUBLIC KEY")
            .ok_or_else(|| EvidenceError::Key("not a PEM \"PUBLIC KEY\" block".into()))?;
        let raw: [u8; 32] = der
            .strip_prefix(&SPKI_PREFIX[..])
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| EvidenceError::Key("not an Ed25519 public key".into()))?;
        VerifyingKey::from_bytes(&raw)
            .map(PublicKey)
            .map_err(|e| EvidenceError::Key(format!("invalid Ed25519 public key: {e}")))
    }

    /// `ed25519:` and the key in hex, as the genesis entry of the log names it.
    pub fn label(&self) -> String {
        format!("ed25519:{}", hex::encode(self.0.as_bytes()))
    }

    /// The first 8 bytes of SHA-256 of the raw key, in hex: a short name for the key.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify(message, &sig).is_ok()
    }
}

fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("triage-key-{}", uuid::Uuid::now_v7()));
        let path = dir.join("keys/custody.pem");
        let k1 = CustodyKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let k2 = CustodyKey::load_or_create(&path).unwrap();
        assert_eq!(k1.public(), k2.public());
        let sig = k1.sign(b"hello");
        let pem = k1.public().to_pem();
        let public = PublicKey::from_pem(&pem).unwrap();
        assert!(public.verify(b"hello", &sig));
        assert!(!public.verify(b"hellO", &sig));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = CustodyKey::load_or_create(&path).err().unwrap();
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
