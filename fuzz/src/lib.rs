//! What the fuzz targets share: a private scratch directory per fuzzing process, and archive
//! extraction under a small budget with the checks every outcome must pass.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use palisade_extract::{BudgetLimits, Extractor, Format, LocalBudget};

/// A scratch directory for this process, under `TMPDIR`. It is not removed when libFuzzer
/// exits (statics are not dropped), so `scripts/fuzz.sh` points `TMPDIR` at a directory of its
/// own and removes that after each run.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("palisade-fuzz-")
            .tempdir()
            .expect("scratch directory")
            .keep()
    })
}

/// The budget the archive targets extract under: small, so that bombs hit it quickly.
pub const LIMITS: BudgetLimits = BudgetLimits {
    max_depth: 4,
    max_total_bytes: 16 << 20,
    max_members: 256,
    max_time: Duration::from_secs(5),
    max_ratio: 1000,
    ratio_floor: 1 << 20,
};

/// Extracts `data` as `format` and checks the outcome: every member is a regular file inside
/// the output directory with the size reported, the budget holds, and nothing was written
/// anywhere else. Errors (damaged archives) are fine; panics and broken invariants are not.
pub fn extract(format: Format, data: &[u8]) {
    let dir = scratch();
    let archive = dir.join("archive");
    std::fs::write(&archive, data).expect("write the archive");
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir(&out).expect("output directory");
    let budget = LocalBudget::new(LIMITS);
    let passwords = vec!["secret".to_string()];
    let extractor = Extractor {
        out_dir: &out,
        passwords: &passwords,
        budget: &budget,
        display_name: "fuzz.bin",
    };
    if let Ok(outcome) = extractor.extract(&archive, format) {
        let mut total = 0u64;
        for member in &outcome.members {
            assert!(
                member.path.starts_with(&out),
                "{member:?} is outside {out:?}"
            );
            let meta = std::fs::symlink_metadata(&member.path).expect("member file exists");
            assert!(meta.is_file(), "{member:?} is not a regular file");
            assert_eq!(meta.len(), member.size, "{member:?}");
            total += member.size;
        }
        assert!(total <= LIMITS.max_total_bytes, "{total} bytes extracted");
        assert!(outcome.members.len() as u64 <= LIMITS.max_members);
    }
    let mut left: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scratch listing")
        .map(|entry| entry.expect("entry").path())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![archive, out.clone()],
        "extraction wrote outside its directory"
    );
    std::fs::remove_dir_all(&out).expect("clean up");
}
