//! Reads `/metrics` answers with the Prometheus project's own Python parser
//! (`scripts/metrics_parse.py`, `prometheus_client` from PyPI; scripts/test.sh installs it), so
//! the tests judge the exposition by an independent reader, not by the crate that wrote it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// One sample as the parser read it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Sample {
    /// The metric family's name (a counter's without `_total`).
    pub family: String,
    /// `counter`, `gauge`, `histogram`, `info`...
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of `text`. Panics with the parser's message when the text breaks the
/// OpenMetrics rules.
pub fn parse(text: &str) -> Vec<Sample> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/metrics_parse.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (scripts/test.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Prometheus parser refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The value of sample `name` whose labels include every pair of `labels`, summed over the
/// samples that match (so a label left out is summed over).
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(key, want)| s.labels.get(*key).map(String::as_str) == Some(*want))
        })
        .map(|s| s.value)
        .sum()
}
