//! The cluster's shared services for tests: a real PostgreSQL and a real S3-compatible server,
//! each in a temporary directory on a loopback port, stopped on drop.
//!
//! Missing binaries are test failures, never skips: `scripts/test.sh` installs PostgreSQL
//! (Debian `postgresql`) and s3s-fs (`cargo install s3s-fs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A PostgreSQL server of its own: `initdb` into a temporary directory, then `pg_ctl start` on a
/// loopback port with trust authentication. Run as the `postgres` user when the tests run as root
/// (PostgreSQL refuses to run as root).
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("palisade-pg")
            .tempdir()
            .expect("temporary directory");
        let as_root = rustix::process::geteuid().is_root();
        if as_root {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres {:?}", dir.path());
        }
        let data = dir.path().join("data");
        run_as_postgres(
            as_root,
            Command::new(bin.join("initdb")).arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
        );
        let mut server = Postgres {
            dir,
            bin,
            port: free_port(),
        };
        for attempt in 0.. {
            if server.try_start() {
                break;
            }
            let log = std::fs::read_to_string(server.dir.path().join("log")).unwrap_or_default();
            assert!(attempt < 3, "PostgreSQL did not start: {log}");
            server.port = free_port();
        }
        server
    }

    /// Starts the server on its data directory and port (no durability waits: test data only).
    fn try_start(&self) -> bool {
        let options = format!(
            "-k {} -p {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB",
            self.dir.path().display(),
            self.port
        );
        try_run_as_postgres(
            rustix::process::geteuid().is_root(),
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-o", &options, "-l"])
                .arg(self.dir.path().join("log"))
                .args(["-w", "-t", "30", "start"]),
        )
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`): clients lose their connections.
    pub fn stop(&self) {
        let stopped = try_run_as_postgres(
            rustix::process::geteuid().is_root(),
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "stop"]),
        );
        assert!(stopped, "pg_ctl stop");
    }

    /// Starts it again after [`Postgres::stop`], on the same port with the same data.
    pub fn restart(&self) {
        assert!(self.try_start(), "PostgreSQL did not start again");
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one SQL statement with psql and returns its output, unaligned (`a|b` lines).
    pub fn query(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-At", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Creates another database on this server and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let status = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-q", "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .stdout(Stdio::null())
            .status()
            .expect("psql");
        assert!(status.success(), "CREATE DATABASE {name}");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = try_run_as_postgres(
            rustix::process::geteuid().is_root(),
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "stop"]),
        );
    }
}

/// Where the PostgreSQL server programs are: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/N/bin` (Debian does not put them on PATH).
fn postgres_bin_dir() -> PathBuf {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL is installed (scripts/test.sh installs the postgresql package)")
}

fn run_as_postgres(as_root: bool, command: &mut Command) {
    assert!(try_run_as_postgres(as_root, command), "{command:?} failed");
}

fn try_run_as_postgres(as_root: bool, command: &mut Command) -> bool {
    let mut wrapped;
    let command = if as_root {
        wrapped = Command::new("runuser");
        wrapped
            .args(["-u", "postgres", "--"])
            .arg(command.get_program())
            .args(command.get_args());
        &mut wrapped
    } else {
        command
    };
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A real S3-compatible server (s3s-fs) over a temporary directory, with bucket `palisade`.
pub struct S3Server {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

pub const S3_ACCESS_KEY: &str = "palisade-test";
pub const S3_SECRET_KEY: &str = "palisade-test-secret";
pub const S3_BUCKET: &str = "palisade";

impl S3Server {
    pub fn start() -> S3Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir_all(dir.path().join("root").join(S3_BUCKET)).unwrap();
        for attempt in 0.. {
            let port = free_port();
            if let Some(child) = spawn_s3s_fs(dir.path(), port) {
                return S3Server { child, dir, port };
            }
            assert!(attempt < 3, "s3s-fs did not start");
        }
        unreachable!()
    }

    /// Stops the server (SIGKILL): requests fail until [`S3Server::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port over the same objects.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = spawn_s3s_fs(self.dir.path(), self.port) {
                self.child = child;
                return;
            }
            assert!(Instant::now() < deadline, "s3s-fs did not start again");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A Palisade blob store URL for the bucket, with the endpoint and credentials in its query.
    pub fn url(&self) -> String {
        format!(
            "s3://{S3_BUCKET}?endpoint={}&region=us-east-1&access_key_id={S3_ACCESS_KEY}&secret_access_key={S3_SECRET_KEY}",
            self.endpoint()
        )
    }

    /// The directory holding the bucket's objects as files.
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("root").join(S3_BUCKET)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts s3s-fs over `dir/root` on `port`; `None` if it does not listen within 10 s.
fn spawn_s3s_fs(dir: &Path, port: u16) -> Option<Child> {
    let mut child = Command::new(s3s_fs_program())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
        .arg(dir.join("root"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs is installed (scripts/test.sh runs cargo install s3s-fs)");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn s3s_fs_program() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("s3s-fs"))
        .find(|p| p.exists());
    on_path.unwrap_or_else(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
            .unwrap_or_default();
        home.join("bin").join("s3s-fs")
    })
}
