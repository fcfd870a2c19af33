//! HTTPS on the listener: curl and a Rust client, a renewed certificate picked up without a
//! restart, and client certificates when the operator asks for them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ADMIN_PASSWORD, API_KEY, Server};

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A test CA, and certificates it signs.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Palisade test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Issues `name.pem` and `name.key` for `usage` (serverAuth or clientAuth).
    fn issue(&self, name: &str, usage: &str) {
        let d = self.dir.path();
        std::fs::write(
            d.join(format!("{name}.ext")),
            format!(
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
                 keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"
            ),
        )
        .unwrap();
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext,
            ],
        );
    }

    fn serial(&self, name: &str) -> String {
        let out = openssl(
            self.dir.path(),
            &["x509", "-in", &format!("{name}.pem"), "-noout", "-serial"],
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// The serial of the certificate the server at `address` presents now.
fn served_serial(address: &str) -> String {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {address} -servername localhost </dev/null 2>/dev/null \
             | openssl x509 -noout -serial"
        ))
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn curl(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn https_serves_curl_and_rust_clients_and_picks_up_a_renewed_certificate() {
    let pki = Pki::new();
    pki.issue("server", "serverAuth");
    let config = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\nreload_seconds = 0.2\n",
        pki.path("server.pem"),
        pki.path("server.key")
    );
    let server = Server::start(&config);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let address = server.base.trim_start_matches("https://").to_string();
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();

    let (ok, body) = curl(&["--cacert", ca, &format!("{}/version", server.base)]);
    assert!(ok, "curl over HTTPS");
    assert!(body.contains("\"product_id\""), "{body}");
    // The console's session cookie is marked Secure over TLS.
    let (ok, head) = curl(&[
        "--cacert",
        ca,
        "-i",
        "--data",
        &format!("user=admin&password={ADMIN_PASSWORD}"),
        &format!("{}/console/login", server.base),
    ]);
    assert!(ok);
    let cookie = head
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no session cookie: {head}"));
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    // Plain HTTP to the TLS port gets nowhere.
    let (ok, _) = curl(&[&format!("http://{address}/version")]);
    assert!(!ok);

    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(pki.path("ca.pem")).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let submitted: Value = client
        .post(server.url("/file"))
        .header("apikey", API_KEY)
        .header("filename", "over-tls.txt")
        .body("sent over TLS")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = submitted["data_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report: Value = client
            .get(server.url(&format!("/file/{id}")))
            .header("apikey", API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if report["scan_results"]["progress_percentage"] == 100 {
            assert_eq!(report["scan_results"]["scan_all_result_i"], 0);
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A renewal written over the files is served without a restart.
    let before = served_serial(&address);
    assert_eq!(before, pki.serial("server"));
    pki.issue("renewed", "serverAuth");
    for (from, to) in [("renewed.key", "server.key"), ("renewed.pem", "server.pem")] {
        let staged = pki.path(&format!("{to}.new"));
        std::fs::copy(pki.path(from), &staged).unwrap();
        std::fs::rename(&staged, pki.path(to)).unwrap();
    }
    let renewed = pki.serial("renewed");
    assert_ne!(renewed, before);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_serial(&address) != renewed {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, _) = curl(&["--cacert", ca, &format!("{}/version", server.base)]);
    assert!(ok, "the renewed certificate verifies");
}

#[tokio::test]
async fn client_certificates_are_required_when_configured() {
    let pki = Pki::new();
    pki.issue("server", "serverAuth");
    pki.issue("client", "clientAuth");
    let config = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n",
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem")
    );
    let server = Server::start(&config);
    let ca = pki.path("ca.pem");
    let url = format!("{}/version", server.base);
    let (ok, _) = curl(&["--cacert", ca.to_str().unwrap(), &url]);
    assert!(!ok, "no client certificate, no connection");
    let (ok, body) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        pki.path("client.pem").to_str().unwrap(),
        "--key",
        pki.path("client.key").to_str().unwrap(),
        &url,
    ]);
    assert!(ok, "with a client certificate");
    assert!(body.contains("\"version\""), "{body}");

    // Files that do not load stop the start, naming the file.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("cert.pem"), "not a certificate").unwrap();
    let config = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        broken.path().join("cert.pem"),
        pki.path("server.key")
    );
    let data = tempfile::tempdir().unwrap();
    let refused = crate::support::start_refused(data.path(), &config);
    assert!(
        refused.contains("TLS") && refused.contains("cert.pem"),
        "{refused}"
    );
}
