//! Batch certificate signing: an RSA-4096 key and a self-signed X.509 certificate, generated on first
//! start into the data directory or loaded from configured PEM files. Signatures are RSA PKCS#1 v1.5
//! over SHA-256.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use sha1::Digest;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
use x509_cert::der::{DecodePem, Encode, EncodePem};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfo;
use x509_cert::time::Validity;

/// The loaded signing material.
pub struct SigningKeys {
    key: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    /// The certificate as PEM text.
    pub certificate_pem: String,
    /// SHA-1 of the certificate's DER, uppercase hex pairs joined by `:`.
    pub sha1_fingerprint: String,
}

impl SigningKeys {
    /// Signs `bytes`; the signature is returned hex-encoded.
    pub fn sign_hex(&self, bytes: &[u8]) -> String {
        hex::encode(self.key.sign(bytes).to_bytes())
    }
}

/// Where the signing key comes from, resolved lazily (key generation takes seconds).
#[derive(Clone)]
pub struct BatchSigner {
    key_path: PathBuf,
    cert_path: PathBuf,
    generate_if_missing: bool,
    keys: Arc<tokio::sync::OnceCell<Arc<SigningKeys>>>,
}

impl BatchSigner {
    /// Key and certificate at the given paths; generated there when missing and `generate_if_missing`.
    pub fn new(key_path: PathBuf, cert_path: PathBuf, generate_if_missing: bool) -> Self {
        Self {
            key_path,
            cert_path,
            generate_if_missing,
            keys: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The default location inside a data directory.
    pub fn in_data_dir(dir: &Path) -> Self {
        Self::new(
            dir.join("batch-signing-key.pem"),
            dir.join("batch-signing-cert.pem"),
            true,
        )
    }

    /// Loads (or first generates) the keys; concurrent callers share one load.
    pub async fn keys(&self) -> Result<Arc<SigningKeys>, String> {
        let this = self.clone();
        self.keys
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || this.load_or_generate().map(Arc::new))
                    .await
                    .map_err(|e| e.to_string())?
            })
            .await
            .cloned()
    }

    /// Checks now that operator-supplied key and certificate files load, so a bad file stops
    /// the start with its name and the reason instead of failing every certificate later.
    /// Generated keys are left to the first certificate (generation takes seconds).
    pub fn check_supplied(&self) -> Result<(), String> {
        if self.generate_if_missing {
            return Ok(());
        }
        self.load().map(|_| ())
    }

    fn load_or_generate(&self) -> Result<SigningKeys, String> {
        if !self.generate_if_missing {
            return self.load();
        }
        if self.key_path.exists() || self.cert_path.exists() {
            match self.load() {
                Ok(keys) => return Ok(keys),
                // Our own key, left empty or torn (a full disk while it was first written, by
                // an older version that did not write it atomically): set it aside, make anew.
                Err(problem) => {
                    tracing::warn!(%problem, "the generated batch signing key is unusable: generating a new one");
                    for path in [&self.key_path, &self.cert_path] {
                        let aside = path.with_extension(format!(
                            "pem.damaged-{}",
                            palisade_model::now_millis()
                        ));
                        let _ = std::fs::rename(path, aside);
                    }
                }
            }
        }
        tracing::info!(path = %self.key_path.display(), "generating the RSA-4096 batch signing key");
        let (key_pem, cert_pem) = generate()?;
        // The certificate first: a key without its certificate is regenerated, never half used.
        crate::write_atomically(&self.cert_path, cert_pem.as_bytes())
            .map_err(|e| format!("{}: {e}", self.cert_path.display()))?;
        crate::write_atomically(&self.key_path, key_pem.as_bytes())
            .map_err(|e| format!("{}: {e}", self.key_path.display()))?;
        self.load()
    }

    fn load(&self) -> Result<SigningKeys, String> {
        let key_pem = std::fs::read_to_string(&self.key_path)
            .map_err(|e| format!("{}: {e}", self.key_path.display()))?;
        let cert_pem = std::fs::read_to_string(&self.cert_path)
            .map_err(|e| format!("{}: {e}", self.cert_path.display()))?;
        let private = rsa::PrivateKey::from_pkcs8_pem(&key_pem)
            .map_err(|e| format!("{}: {e}", self.key_path.display()))?;
        let certificate = Certificate::from_pem(cert_pem.as_bytes())
            .map_err(|e| format!("{}: {e}", self.cert_path.display()))?;
        let der = certificate.to_der().map_err(|e| e.to_string())?;
        let digest = sha1::Sha1::digest(&der);
        let sha1_fingerprint = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(SigningKeys {
            key: rsa::pkcs1v15::SigningKey::new(private),
            certificate_pem: cert_pem,
            sha1_fingerprint,
        })
    }
}

/// A new RSA-4096 key (PKCS#8 PEM) and a self-signed certificate for it (PEM), valid ten years.
fn generate() -> Result<(String, String), String> {
    let mut rng = getrandom::SysRng;
    let private = rsa::PrivateKey::new(&mut rng, 4096).map_err(|e| e.to_string())?;
    let key_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    let signing_key = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private.clone());
    let public = private.to_public_key();
    let spki = SubjectPublicKeyInfo::from_key(&public).map_err(|e| e.to_string())?;
    let subject =
        Name::from_str("CN=Palisade batch signing,O=Palisade,C=US").map_err(|e| e.to_string())?;
    let profile = Root::new(false, subject).map_err(|e| e.to_string())?;
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| e.to_string())?;
    serial[0] &= 0x7f;
    let serial = SerialNumber::new(&serial).map_err(|e| e.to_string())?;
    let validity =
        Validity::from_now(Duration::from_secs(10 * 365 * 86_400)).map_err(|e| e.to_string())?;
    let builder =
        CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| e.to_string())?;
    let certificate = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signing_key)
        .map_err(|e| e.to_string())?;
    let cert_pem = certificate
        .to_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    Ok((key_pem, cert_pem))
}
