//! Drives the web console in Debian's headless Chromium with Selenium (PyPI; scripts/test.sh
//! installs both): `scripts/console_browser.py` logs in, uploads, reads reports, pages through an
//! archive, downloads a copy, visits every page, tries a form without its token and logs out,
//! asserting what each page shows and saving a screenshot of each.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What the browser is to do.
pub struct Plan<'a> {
    pub base: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    /// The rule chosen on the upload form.
    pub rule: &'a str,
    pub eicar: &'a Path,
    pub clean: &'a Path,
    /// A drawing the rule sanitizes (its copy is downloaded).
    pub svg: &'a Path,
    /// A zip of 1,000 members `m0000.txt`…`m0999.txt`.
    pub archive: &'a Path,
}

/// Where the screenshots of a run named `name` are kept: `target/test-artifacts/console/<name>`.
pub fn artifacts_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artifacts/console")
        .join(name)
}

/// Runs the plan; panics with the script's output unless every step passed. Returns the
/// script's summary (`uploads` by file name, `downloaded_name` and `downloaded_text`,
/// `screenshots`).
pub fn drive(plan: &Plan, artifacts: &Path) -> Value {
    let work = tempfile::tempdir().unwrap();
    let _ = std::fs::remove_dir_all(artifacts);
    let description = serde_json::json!({
        "base": plan.base,
        "user": plan.user,
        "password": plan.password,
        "rule": plan.rule,
        "eicar": plan.eicar,
        "clean": plan.clean,
        "svg": plan.svg,
        "archive": plan.archive,
        "artifacts": artifacts,
        "downloads": work.path().join("downloads"),
        "profile": work.path().join("profile"),
    });
    let plan_path = work.path().join("plan.json");
    std::fs::write(&plan_path, description.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/console_browser.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&plan_path)
        .output()
        .expect("python3 runs the browser script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or(Value::Null);
    assert!(
        output.status.success() && summary["ok"] == true,
        "the console failed in the browser (screenshots in {}):\n{stdout}{}",
        artifacts.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    summary
}
