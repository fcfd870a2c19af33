//! Loading of signing and TLS material: the bytes before the first NUL are the key file, the
//! rest the certificate file. Whatever they hold, loading answers a reason or succeeds.
#![no_main]

use std::time::Duration;

use palisade_api::{Tls, TlsSettings};
use palisade_service::BatchSigner;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let dir = palisade_fuzz::scratch();
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    std::fs::write(&key, &data[..split]).expect("key file");
    std::fs::write(&cert, data.get(split + 1..).unwrap_or_default()).expect("cert file");
    if let Err(reason) = BatchSigner::new(key.clone(), cert.clone(), false).check_supplied() {
        assert!(!reason.is_empty());
    }
    let settings = TlsSettings {
        cert_file: cert.clone(),
        key_file: key,
        client_ca_file: Some(cert),
        reload_interval: Duration::from_secs(10),
    };
    if let Err(reason) = Tls::load(settings) {
        assert!(!reason.is_empty());
    }
});
