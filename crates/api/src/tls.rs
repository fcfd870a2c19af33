//! HTTPS on the listener: rustls with the operator's certificate and key files, reloaded when
//! they change (a renewed certificate is served without a restart), and optionally client
//! certificates signed by a given CA.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};

/// Where the listener's TLS material is.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's certificate first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (PEM).
    pub client_ca_file: Option<PathBuf>,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
}

/// What the files looked like when they were last loaded (modification time and length).
type Stamp = Vec<Option<(SystemTime, u64)>>;

/// The current TLS configuration, replaced when the files change.
pub struct Tls {
    settings: TlsSettings,
    current: Mutex<(Stamp, TlsAcceptor)>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Tls {
    /// Loads the files; an error names the file and what is wrong with it.
    pub fn load(settings: TlsSettings) -> Result<Self, String> {
        let stamp = stamp(&settings);
        let acceptor = acceptor(&settings)?;
        Ok(Self {
            settings,
            current: Mutex::new((stamp, acceptor)),
        })
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    pub fn reload_interval(&self) -> Duration {
        self.settings.reload_interval
    }

    /// Loads the files again if they changed. A change that does not load (a half-written
    /// renewal, say) keeps the previous configuration, and is tried again next time.
    pub fn reload_if_changed(&self) {
        let now = stamp(&self.settings);
        if self.current.lock().unwrap_or_else(|e| e.into_inner()).0 == now {
            return;
        }
        match acceptor(&self.settings) {
            Ok(acceptor) => {
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = (now, acceptor);
                tracing::info!(cert = %self.settings.cert_file.display(), "TLS certificate reloaded");
            }
            Err(problem) => {
                tracing::warn!(%problem, "the changed TLS files do not load; serving the previous ones")
            }
        }
    }
}

fn stamp(settings: &TlsSettings) -> Stamp {
    [
        Some(&settings.cert_file),
        Some(&settings.key_file),
        settings.client_ca_file.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    })
    .collect()
}

fn acceptor(settings: &TlsSettings) -> Result<TlsAcceptor, String> {
    let shown =
        |path: &PathBuf, error: &dyn std::fmt::Display| format!("{}: {error}", path.display());
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&settings.cert_file)
            .map_err(|e| shown(&settings.cert_file, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| shown(&settings.cert_file, &e))?;
    if certificates.is_empty() {
        return Err(shown(&settings.cert_file, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key_file)
        .map_err(|e| shown(&settings.key_file, &e))?;
    // Both crypto providers may be compiled in (storage clients bring their own), so the
    // provider is named rather than taken from the process default.
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &settings.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_file_iter(path).map_err(|e| shown(path, &e))? {
                roots
                    .add(certificate.map_err(|e| shown(path, &e))?)
                    .map_err(|e| shown(path, &e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| shown(path, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|e| shown(&settings.key_file, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
