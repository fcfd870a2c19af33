//! Test-only helpers shared by several crates' tests (never a normal dependency): real services
//! started on loopback in temporary directories, and test samples built at runtime.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod console;
pub mod dlp;
mod faults;
pub mod images;
pub mod metrics;
pub mod ooxml;
pub mod openapi;
pub mod outlook;
pub mod pdf;
pub mod rtf;
pub mod schemathesis;
mod services;
pub mod svg;

pub use faults::{Fault, FaultEngine, FaultOpener, FaultyParser};
pub use services::{Postgres, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, S3Server};

/// Runs `engine` on `bytes`, written to a temporary file, as a sample named `display_name`.
pub fn scan_bytes(
    engine: &dyn palisade_pipeline::Engine,
    display_name: &str,
    bytes: &[u8],
) -> Result<palisade_pipeline::Finding, palisade_pipeline::EngineError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("sample");
    std::fs::write(&path, bytes).expect("sample written");
    let outputs = dir.path().join("outputs");
    std::fs::create_dir(&outputs).expect("output directory made");
    let hashes = palisade_model::FileHashes::default();
    engine.scan(
        &palisade_pipeline::Sample {
            path: &path,
            size: bytes.len() as u64,
            display_name,
            hashes: &hashes,
        },
        &palisade_pipeline::ScanContext::with_output_dir(
            palisade_pipeline::Limits::default(),
            outputs,
        ),
    )
}

/// The EICAR test string, assembled at runtime so the repository holds no test virus.
pub fn eicar() -> Vec<u8> {
    let mut text = String::from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$");
    text.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    text.into_bytes()
}

/// Signature lines every test clamd loads: EICAR and the clam.exe of Debian's clamav-testfiles.
pub const TEST_SIGNATURES: &str = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR.HDB\n\
aa15bcf478d165efd2065190eb473bcb:544:Test.ClamExe.HDB\n";

/// A byte string the test clamd detects anywhere in a file (a body signature), as
/// `Test.Palisade.Body.UNOFFICIAL`.
pub const BODY_MARKER: &[u8] = b"PALISADE-TEST-BODY-SIGNATURE-7f3a";

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
        Self::start_with_databases(extra_config, &[])
    }

    /// Like [`Clamd::start`], with more signature files (name, contents) in its database.
    pub fn start_with_databases(extra_config: &str, databases: &[(&str, &str)]) -> Clamd {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path();
        std::fs::create_dir_all(root.join("db")).unwrap();
        for (name, contents) in databases {
            std::fs::write(root.join("db").join(name), contents).unwrap();
        }
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::write(root.join("db/palisade-test.hdb"), TEST_SIGNATURES).unwrap();
        let body: String = BODY_MARKER.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            root.join("db/palisade-test.ndb"),
            format!("Test.Palisade.Body:0:*:{body}\n"),
        )
        .unwrap();
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

    /// Waits until clamd answers PING: the socket file appears at bind(), before
    /// listen(), so its existence alone does not mean connections are accepted.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.answers_ping() {
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

    fn answers_ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::os::unix::net::UnixStream::connect(self.socket()) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reply = Vec::new();
        stream.write_all(b"zPING\0").is_ok()
            && stream.read_to_end(&mut reply).is_ok()
            && reply.starts_with(b"PONG")
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// A real c-icap server with its virus_scan service over a [`Clamd`], on a loopback port,
/// stopped (with its worker processes) on drop. The service is `/avscan`.
///
/// A missing c-icap is a test failure, never a skip: `scripts/test.sh` installs c-icap and
/// libc-icap-mod-virus-scan.
pub struct IcapServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl IcapServer {
    pub fn start(clamd: &Clamd) -> IcapServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        let port = free_port();
        let modules = "/usr/lib/x86_64-linux-gnu/c_icap";
        let config = format!(
            "PidFile {root}/c-icap.pid\nCommandsSocket {root}/c-icap.ctl\nPort 127.0.0.1:{port}\n\
             StartServers 1\nMaxServers 1\nThreadsPerChild 16\nMinSpareThreads 1\nMaxSpareThreads 16\n\
             TmpDir {root}/tmp\nModulesDir {modules}\nServicesDir {modules}\n\
             TemplateDir /usr/share/c_icap/templates/\nTemplateDefaultLanguage en\n\
             LoadMagicFile /etc/c-icap/c-icap.magic\nServerLog {root}/server.log\n\
             AccessLog {root}/access.log\nModule common clamd_mod.so\n\
             clamd_mod.ClamdSocket {socket}\nService antivirus_module virus_scan.so\n\
             ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple\n\
             virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE\n\
             virus_scan.DefaultEngine clamd\n",
            root = root.display(),
            socket = clamd.socket().display(),
        );
        std::fs::write(root.join("c-icap.conf"), config).unwrap();
        let mut server = IcapServer {
            child: spawn_c_icap(&root.join("c-icap.conf")),
            port,
            dir,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                panic!("c-icap exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "c-icap did not open its port");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `icap://127.0.0.1:PORT/avscan`.
    pub fn url(&self) -> String {
        format!("icap://127.0.0.1:{}/avscan", self.port)
    }

    /// Stops c-icap and its worker processes.
    pub fn stop(&mut self) {
        // The server runs in its own process group: end the workers along with the parent.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_c_icap(config: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("c-icap")
        .arg("-N")
        .arg("-f")
        .arg(config)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("c-icap is installed (scripts/test.sh installs c-icap)")
}

impl Drop for IcapServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback TCP port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// An OLE package's native data (the `Package` class, as in `Ole10Native` streams after their
/// size and in RTF objects): a 2-byte header, the file's name and source path, 4 bytes, the
/// temporary path with its length, then the file's size and bytes.
pub fn ole_package(name: &str, data: &[u8]) -> Vec<u8> {
    let mut native = vec![2, 0];
    for text in [name.to_string(), format!("C:\\Users\\a\\{name}")] {
        native.extend_from_slice(text.as_bytes());
        native.push(0);
    }
    native.extend_from_slice(&[0, 0, 3, 0]);
    let temp = format!("C:\\Temp\\{name}\0");
    native.extend_from_slice(&(temp.len() as u32).to_le_bytes());
    native.extend_from_slice(temp.as_bytes());
    native.extend_from_slice(&(data.len() as u32).to_le_bytes());
    native.extend_from_slice(data);
    native
}

/// A gzip file of 390 bytes that decompresses to itself (`scripts/gzip_quine.py`), so that
/// each level of extraction finds the same file again.
pub fn gzip_quine(path: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gzip_quine.py");
    let status = std::process::Command::new("python3")
        .arg(script)
        .arg(path)
        .status()
        .expect("python3");
    assert!(status.success(), "the gzip quine was not written");
}

/// An overlapping-entry zip bomb: `entries` central directory entries all point at one deflated
/// member of `member_bytes` zeros (`entries × member_bytes` if fully extracted).
pub fn overlapping_zip_bomb(path: &Path, member_bytes: usize, entries: u16) {
    use std::io::Write;
    let data = vec![0u8; member_bytes];
    let mut crc = flate2::Crc::new();
    crc.update(&data);
    let mut deflated = Vec::new();
    {
        let mut encoder =
            flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::best());
        encoder.write_all(&data).unwrap();
        encoder.finish().unwrap();
    }
    let name = b"zeros";
    let mut out = Vec::new();
    let header = |out: &mut Vec<u8>, central: bool, index: u32| {
        out.extend_from_slice(if central {
            b"PK\x01\x02"
        } else {
            b"PK\x03\x04"
        });
        if central {
            out.extend_from_slice(&20u16.to_le_bytes()); // made by
        }
        out.extend_from_slice(&20u16.to_le_bytes()); // needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&8u16.to_le_bytes()); // deflate
        out.extend_from_slice(&0u32.to_le_bytes()); // time, date
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(deflated.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        let entry_name = if central {
            format!("zeros{index:04}").into_bytes()
        } else {
            name.to_vec()
        };
        out.extend_from_slice(&(entry_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra
        if central {
            out.extend_from_slice(&[0u8; 6]); // comment len, disk, internal attrs
            out.extend_from_slice(&0u32.to_le_bytes()); // external attrs
            out.extend_from_slice(&0u32.to_le_bytes()); // local header offset: all the same
        }
        out.extend_from_slice(&entry_name);
    };
    header(&mut out, false, 0);
    out.extend_from_slice(&deflated);
    let directory_start = out.len();
    for index in 0..u32::from(entries) {
        header(&mut out, true, index);
    }
    let directory_size = out.len() - directory_start;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&(directory_size as u32).to_le_bytes());
    out.extend_from_slice(&(directory_start as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(path, out).unwrap();
}

/// A command-line sanitizer for tests, written into `dir`: run as `sanitizer {path} {output}`,
/// it writes `REBUILT\n` followed by the input to the output and exits 0. An input containing
/// `CANNOT-SANITIZE` makes it exit 0 without writing anything (a step that claims success but
/// produced no copy); one containing `SANITIZER-CRASH` makes it exit 7.
pub fn write_sanitizer(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("test-sanitizer.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\n\
         grep -q SANITIZER-CRASH \"$1\" && { echo 'cannot parse the document' >&2; exit 7; }\n\
         grep -q CANNOT-SANITIZE \"$1\" && exit 0\n\
         { printf 'REBUILT\\n'; cat \"$1\"; } > \"$2\"\n",
    )
    .expect("sanitizer written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("sanitizer made executable");
    path
}

/// The configuration of [`write_sanitizer`]'s script as a `[[engines]]` entry with id
/// `sanitizer`, plus a command-line "antivirus" (id `marker-av`) that detects files containing
/// `BLOCK-ME`, so tests can have blocked files without a clamd.
pub fn sanitizer_engines(sanitizer: &Path) -> String {
    format!(
        "[[engines]]\nkind = \"command\"\nid = \"sanitizer\"\nname = \"Test Sanitizer\"\n\
         produces = \"sanitized\"\ncommand = [\"{}\", \"{{path}}\", \"{{output}}\"]\n\n\
         [[engines]]\nkind = \"command\"\nid = \"marker-av\"\nname = \"Marker AV\"\n\
         command = [\"sh\", \"-c\", \"if grep -q BLOCK-ME \\\"$0\\\"; then echo 'Marker.Found FOUND'; exit 1; fi\", \"{{path}}\"]\n\
         threat_pattern = '(\\S+) FOUND'\n\n",
        sanitizer.display()
    )
}
