//! Runs Schemathesis (PyPI; scripts/test.sh installs it) against a running server with the
//! server's own OpenAPI document: generated requests, positive and negative, with every check
//! (no server errors, statuses, content types, headers and bodies as documented, valid data
//! accepted and invalid data refused).

use std::path::Path;
use std::process::Command;

/// Panics with Schemathesis's report unless it finds no failure against `base` (whose
/// `/openapi.json` it reads), sending `apikey` with every request. `examples` bounds the test
/// cases per operation; the seed is fixed so that a run can be repeated.
pub fn run(base: &str, apikey: &str, examples: u32) {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/schemathesis.toml");
    let reports = tempfile::tempdir().unwrap();
    let output = Command::new("st")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--header", &format!("apikey: {apikey}")])
        .args(["--checks", "all"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", "20261207"])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        .env("SCHEMATHESIS_REPORTS_DIR", reports.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis's st command (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "Schemathesis found failures:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
