//! Test-only helpers shared by several crates' tests (never a normal dependency): real services
//! started on loopback in temporary directories, and test samples built at runtime.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The EICAR test string, assembled at runtime so the repository holds no test virus.
pub fn eicar() -> Vec<u8> {
    let mut text = String::from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$");
    text.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    text.into_bytes()
}

/// Signature lines every test clamd loads: EICAR and the clam.exe of Debian's clamav-testfiles.
pub const TEST_SIGNATURES: &str = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR.HDB\n\
aa15bcf478d165efd2065190eb473bcb:544:Test.ClamExe.HDB\n";

/// A real clamd on a unix socket in a temporary directory, stopped on drop.
///
/// A missing clamd binary is a test failure, never a skip: `scripts/test.sh` installs it.
pub struct Clamd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Clamd {
    /// Starts clamd with `TEST_SIGNATURES` plus `extra_config` lines (e.g. `StreamMaxLength 1K`).
    pub fn start(extra_config: &str) -> Clamd {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path();
        std::fs::create_dir_all(root.join("db")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::write(root.join("db/palisade-test.hdb"), TEST_SIGNATURES).unwrap();
        let config = format!(
            "LocalSocket {socket}\nDatabaseDirectory {db}\nTemporaryDirectory {tmp}\nLogFile {log}\n\
             PidFile {pid}\nForeground yes\nUser root\n{extra_config}\n",
            socket = root.join("clamd.sock").display(),
            db = root.join("db").display(),
            tmp = root.join("tmp").display(),
            log = root.join("clamd.log").display(),
            pid = root.join("clamd.pid").display(),
        );
        std::fs::write(root.join("clamd.conf"), config).unwrap();
        let mut clamd = Clamd {
            child: spawn_clamd(&root.join("clamd.conf")),
            dir,
        };
        clamd.wait_ready();
        clamd
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.socket().exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("clamd.log")).unwrap_or_default();
                panic!("clamd exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "clamd did not open its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("clamd.sock")
    }

    /// The daemon's configuration file (clamdscan takes it with `-c` to find the socket).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("clamd.conf")
    }

    /// The signature database directory (clamscan takes it with `-d`).
    pub fn database_dir(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    /// Kills clamd (SIGKILL) and removes its socket.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.socket());
    }

    /// Starts clamd again with the same configuration.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_clamd(&self.dir.path().join("clamd.conf"));
        self.wait_ready();
    }
}

fn spawn_clamd(config: &Path) -> Child {
    Command::new("clamd")
        .arg("-c")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("clamd is installed (scripts/test.sh installs clamav-daemon)")
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.kill();
    }
}
