//! The data directory: a damaged, missing, emptied or replaced database stops the start; a
//! clean stop leaves everything in the database file; `/readyz` fails while storage cannot take
//! new files (a full disk).

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, start_refused};

/// A data directory with a few stored files, stopped cleanly; returns the files' ids.
async fn initialised(dir: &Path, files: usize) -> Vec<String> {
    let mut server = Server::launch("serve", dir, "");
    let mut ids = Vec::new();
    for n in 0..files {
        let id = server
            .submit(
                &format!("f{n}.txt"),
                format!("file number {n} ").repeat(50).into_bytes(),
            )
            .await;
        ids.push(id);
    }
    for id in &ids {
        server.wait_final(id).await;
    }
    assert!(server.terminate(Duration::from_secs(30)).success());
    ids
}

fn database(dir: &Path) -> PathBuf {
    dir.join("palisade.db")
}

#[tokio::test]
async fn an_emptied_missing_or_replaced_database_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let ids = initialised(data.path(), 3).await;

    // Truncated to zero bytes.
    let saved = std::fs::read(database(data.path())).unwrap();
    std::fs::write(database(data.path()), b"").unwrap();
    let refused = start_refused(data.path(), "");
    assert!(
        refused.contains("is empty") && refused.contains("--new-database"),
        "{refused}"
    );
    assert_eq!(
        std::fs::metadata(database(data.path())).unwrap().len(),
        0,
        "left untouched"
    );

    // Missing.
    std::fs::remove_file(database(data.path())).unwrap();
    let refused = start_refused(data.path(), "");
    assert!(refused.contains("is missing"), "{refused}");
    assert!(
        !database(data.path()).exists(),
        "no new database was created"
    );

    // Replaced by another installation's database.
    let other = tempfile::tempdir().unwrap();
    initialised(other.path(), 1).await;
    std::fs::copy(database(other.path()), database(data.path())).unwrap();
    let refused = start_refused(data.path(), "");
    assert!(refused.contains("is not the one"), "{refused}");

    // The original restored: everything is back.
    std::fs::write(database(data.path()), &saved).unwrap();
    let server = Server::launch("serve", data.path(), "");
    for id in &ids {
        assert_eq!(
            server.report(id).await["scan_results"]["progress_percentage"],
            100
        );
    }
    drop(server);

    // Starting afresh is the operator's explicit choice.
    std::fs::write(database(data.path()), b"").unwrap();
    let server = Server::launch_args("serve", data.path(), "", &["--new-database"]);
    let gone: Value = server.report(&ids[0]).await;
    assert_eq!(gone[&ids[0]], "Not Found");
    let id = server.submit("new.txt", b"a new start".to_vec()).await;
    server.wait_final(&id).await;
}

#[tokio::test]
async fn a_database_damaged_in_the_middle_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    initialised(data.path(), 200).await;
    let path = database(data.path());
    let length = std::fs::metadata(&path).unwrap().len();
    assert!(length > 256 * 1024, "a database of many pages: {length}");
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(length / 2 / 4096 * 4096))
        .unwrap();
    let mut noise = vec![0u8; 64 * 1024];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for byte in &mut noise {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    file.write_all(&noise).unwrap();
    drop(file);
    let refused = start_refused(data.path(), "");
    assert!(
        refused.contains("is damaged") && refused.contains("integrity check"),
        "{refused}"
    );
    // The operator may set it aside and start anew.
    let server = Server::launch_args("serve", data.path(), "", &["--new-database"]);
    let id = server
        .submit("after.txt", b"after the damage".to_vec())
        .await;
    server.wait_final(&id).await;
    assert!(
        std::fs::read_dir(data.path()).unwrap().flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .contains("palisade.db.replaced-")),
        "the damaged database is kept aside"
    );
}

#[tokio::test]
async fn after_a_clean_stop_the_database_file_alone_holds_everything() {
    let data = tempfile::tempdir().unwrap();
    let ids = initialised(data.path(), 5).await;
    let wal = data.path().join("palisade.db-wal");
    if wal.exists() {
        assert_eq!(
            std::fs::metadata(&wal).unwrap().len(),
            0,
            "checkpointed at stop"
        );
        std::fs::remove_file(&wal).unwrap();
    }
    let _ = std::fs::remove_file(data.path().join("palisade.db-shm"));
    let server = Server::launch("serve", data.path(), "");
    for id in &ids {
        assert_eq!(
            server.report(id).await["scan_results"]["progress_percentage"],
            100
        );
    }
}

/// A tmpfs of `mib` MiB mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: u32) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=700"),
                "tmpfs",
            ],
            dir.path(),
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn run(program: &str, args: &[&str], target: &Path) {
    let status = std::process::Command::new(program)
        .args(args)
        .arg(target)
        .status()
        .unwrap();
    assert!(status.success(), "{program} {args:?} {}", target.display());
}

/// Polls `/readyz` until its status is `want`; returns the last body.
async fn readyz_becomes(server: &Server, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "readyz stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readyz_fails_on_a_full_disk_and_recovers() {
    let disk = Tmpfs::mount(48);
    let data = disk.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let config = "[readiness]\nprobe_seconds = 0.2\nmin_free_mib = 16\n";
    let server = Server::launch("serve", &data, config);
    readyz_becomes(&server, 200).await;

    // Fill the disk up, as a runaway log or a huge upload elsewhere would.
    let filler = disk.path().join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while file.write_all(&chunk).is_ok() {}
    drop(file);
    let body = readyz_becomes(&server, 503).await;
    let err = body["err"].as_str().unwrap();
    assert!(err.contains("disk nearly full"), "{body}");
    assert!(err.contains("blob store cannot write"), "{body}");
    std::fs::remove_file(&filler).unwrap();
    readyz_becomes(&server, 200).await;
    let id = server.submit("after.txt", b"writable again".to_vec()).await;
    server.wait_final(&id).await;
    drop(server);
}
