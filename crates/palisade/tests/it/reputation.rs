//! Operator block/allow lists, hash reputation, trusted files skipping antivirus, and the
//! "N engines agree" block threshold, through the binary with a real clamd.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, eicar};
use palisade_test_support::Clamd;

struct Lists {
    dir: tempfile::TempDir,
}

impl Lists {
    fn new() -> Lists {
        let dir = tempfile::tempdir().unwrap();
        for name in ["bad.txt", "good.txt", "block.txt", "allow.txt"] {
            std::fs::write(dir.path().join(name), "# filled in by the test\n").unwrap();
        }
        Lists { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }
}

fn config(clamd: &Clamd, lists: &Lists) -> String {
    format!(
        "[yara]\nenabled = false\n\n[health]\ncheck_seconds = 0.2\n\n\
         [lists]\nblock = [\"{block}\"]\nallow = [\"{allow}\"]\n\n\
         [reputation]\nknown_bad = [\"{bad}\"]\nknown_good = [\"{good}\"]\n\n\
         [[engines]]\nkind = \"clamav\"\naddress = \"{socket}\"\n\n\
         [[engines]]\nkind = \"command\"\nid = \"always-clean\"\ncommand = [\"true\"]\n\n\
         [[rules]]\nname = \"Default\"\n\n\
         [[rules]]\nname = \"Trusted\"\nskip_antivirus_when_trusted = true\n\n\
         [[rules]]\nname = \"Agree\"\nengines = [\"clamav\", \"always-clean\"]\nav_detections_to_block = 2\n",
        block = lists.path("block.txt"),
        allow = lists.path("allow.txt"),
        bad = lists.path("bad.txt"),
        good = lists.path("good.txt"),
        socket = clamd.socket().display(),
    )
}

async fn scan(server: &Server, rule: &str, bytes: &[u8]) -> Value {
    let data_id = server
        .submit_with(server.post("/file").header("rule", rule), bytes.to_vec())
        .await;
    server.wait_final(&data_id).await
}

fn digest(report: &Value, kind: &str) -> String {
    report["file_info"][kind].as_str().unwrap().to_string()
}

#[tokio::test]
async fn lists_and_reputation_decide_and_trusted_files_skip_antivirus() {
    let clamd = Clamd::start("");
    let lists = Lists::new();
    let server = Server::start(&config(&clamd, &lists));
    let (alpha, beta, delta) = (
        b"payload alpha".as_slice(),
        b"payload beta".as_slice(),
        b"installer delta".as_slice(),
    );

    // Unlisted files: reputation says Unknown, which does not change a clean result.
    let first_alpha = scan(&server, "Default", alpha).await;
    assert_eq!(first_alpha["scan_results"]["scan_all_result_i"], 0);
    let first_beta = scan(&server, "Default", beta).await;
    let first_eicar = scan(&server, "Default", &eicar()).await;
    let first_delta = scan(&server, "Default", delta).await;

    // Lists in every accepted format, keyed by different digests; picked up without a restart.
    lists.write(
        "bad.txt",
        &format!(
            "{}  Acme.Dropper\n",
            digest(&first_alpha, "md5").to_uppercase()
        ),
    );
    lists.write("block.txt", &format!("{}\n", digest(&first_beta, "sha256")));
    lists.write(
        "allow.txt",
        &format!("{}:68:Test.Allowed\n", digest(&first_eicar, "sha1")),
    );
    lists.write(
        "good.txt",
        &format!("{} Vendor installer\n", digest(&first_delta, "sha512")),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let engines = server.get_json("/stat/engines").await;
        let versions: Vec<&str> = engines
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["eng_id"] == "lists" || e["eng_id"] == "reputation")
            .map(|e| e["eng_ver"].as_str().unwrap())
            .collect();
        if versions == ["1 bad, 1 good", "1 bad, 1 good"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lists not reloaded: {versions:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let known_bad = scan(&server, "Default", alpha).await;
    assert_eq!(known_bad["scan_results"]["scan_all_result_i"], 38);
    assert_eq!(known_bad["scan_results"]["scan_all_result_a"], "Known Bad");
    assert_eq!(known_bad["process_info"]["result"], "Blocked");
    assert!(
        known_bad["process_info"]["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "Known Bad: Acme.Dropper"),
        "{}",
        known_bad["process_info"]
    );

    let blocked = scan(&server, "Default", beta).await;
    assert_eq!(blocked["scan_results"]["scan_all_result_i"], 8);
    assert_eq!(blocked["process_info"]["result"], "Blocked");

    // Allow-listed but detected, with a rule that still scans: the detection wins.
    let scanned = scan(&server, "Default", &eicar()).await;
    assert_eq!(scanned["scan_results"]["scan_all_result_i"], 1);
    assert_eq!(scanned["process_info"]["result"], "Blocked");
    // With a rule that trusts the lists, antivirus does not run at all.
    let trusted = scan(&server, "Trusted", &eicar()).await;
    assert_eq!(trusted["scan_results"]["scan_all_result_i"], 7);
    assert_eq!(trusted["process_info"]["result"], "Allowed");
    assert_eq!(trusted["scan_results"]["total_avs"], 0);
    assert!(
        trusted["scan_results"]["scan_details"]
            .as_object()
            .is_none_or(|d| d.is_empty())
    );

    let known_good = scan(&server, "Trusted", delta).await;
    assert_eq!(known_good["scan_results"]["scan_all_result_i"], 39);
    assert_eq!(known_good["process_info"]["result"], "Allowed");
    // An unlisted file under the trusting rule is scanned as usual.
    let unlisted = scan(&server, "Trusted", b"someone else's file").await;
    assert_eq!(unlisted["scan_results"]["total_avs"], 2);
    assert_eq!(unlisted["scan_results"]["scan_all_result_i"], 0);
}

#[tokio::test]
async fn a_file_is_blocked_only_when_enough_engines_agree() {
    let clamd = Clamd::start("");
    let lists = Lists::new();
    let server = Server::start(&config(&clamd, &lists));
    // ClamAV detects EICAR; the second engine never does: one of the two required.
    let report = scan(&server, "Agree", &eicar()).await;
    let details = &report["scan_results"]["scan_details"];
    assert_eq!(details["ClamAV"]["scan_result_i"], 1);
    assert_eq!(details["always-clean"]["scan_result_i"], 0);
    assert_eq!(report["process_info"]["result"], "Allowed");
    assert_eq!(report["process_info"]["verdicts"][0], "Infected");
    // The default rule blocks on any one engine.
    let report = scan(&server, "Default", &eicar()).await;
    assert_eq!(report["process_info"]["result"], "Blocked");
}
