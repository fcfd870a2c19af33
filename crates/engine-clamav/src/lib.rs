//! ClamAV engine: streams each file to clamd with the INSTREAM command over a unix socket or TCP.
//!
//! Connections are kept open as clamd sessions (`IDSESSION`) and reused by later scans; a session
//! that clamd closed meanwhile is replaced once, transparently.
//!
//! A detection is Infected (1) with clamd's threat name. A file over clamd's `StreamMaxLength` is
//! Not Scanned (10) with that reason; clamd being down or answering with an error is Failed (3).
//! Neither ever reads as clean.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Sample, ScanContext, Stage,
    StatusCell,
};

/// Where clamd listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClamdAddress {
    Unix(PathBuf),
    Tcp(String),
}

impl ClamdAddress {
    /// `unix:/run/clamav/clamd.ctl`, `/run/clamav/clamd.ctl` or `tcp:127.0.0.1:3310`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(address) = text.strip_prefix("tcp:") {
            return Ok(Self::Tcp(address.to_string()));
        }
        if text.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(text)));
        }
        Err(format!(
            "clamd address {text:?}: use unix:/path/to/socket or tcp:host:port"
        ))
    }
}

impl std::fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}

/// One configured clamd.
#[derive(Clone, Debug)]
pub struct ClamavSettings {
    /// Engine id (`eng_id`), unique among engines.
    pub id: String,
    /// Name in `scan_details`.
    pub name: String,
    pub address: ClamdAddress,
    /// Limit on connecting, sending and waiting for one answer.
    pub timeout: Duration,
}

/// Debian's clamd socket, used when no address is configured and it exists.
pub const DEBIAN_SOCKET: &str = "/var/run/clamav/clamd.ctl";

enum Connection {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Connection {
    fn open(address: &ClamdAddress, timeout: Duration) -> std::io::Result<Self> {
        let connection = match address {
            ClamdAddress::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                Connection::Unix(stream)
            }
            ClamdAddress::Tcp(address) => {
                let mut last = None;
                let mut found = None;
                for candidate in std::net::ToSocketAddrs::to_socket_addrs(address.as_str())? {
                    match TcpStream::connect_timeout(&candidate, timeout) {
                        Ok(stream) => {
                            found = Some(stream);
                            break;
                        }
                        Err(error) => last = Some(error),
                    }
                }
                let stream = found.ok_or_else(|| {
                    last.unwrap_or_else(|| std::io::Error::other("address resolves to nothing"))
                })?;
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                Connection::Tcp(stream)
            }
        };
        Ok(connection)
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Connection::Unix(stream) => stream,
            Connection::Tcp(stream) => stream,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Reads one NUL-terminated (or connection-terminated) reply, at most 64 KiB. Scans never
/// pipeline commands on a session, so nothing follows the reply until the next command.
fn read_reply(stream: &mut dyn ReadWrite) -> std::io::Result<String> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.contains(&0) || reply.len() > 64 * 1024 {
            break;
        }
    }
    let end = reply.iter().position(|b| *b == 0).unwrap_or(reply.len());
    Ok(String::from_utf8_lossy(&reply[..end]).trim().to_string())
}

/// Drops the `N: ` request id clamd puts in front of replies inside a session.
fn strip_session_id(reply: &str) -> &str {
    match reply.split_once(": ") {
        Some((id, rest)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => reply,
    }
}

/// What clamd said about a stream.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Clean,
    Found(String),
    TooLarge,
    Error(String),
}

fn parse_scan_reply(reply: &str) -> Verdict {
    let body = reply.strip_prefix("stream:").unwrap_or(reply).trim();
    if body == "OK" {
        Verdict::Clean
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Verdict::Found(name.trim().to_string())
    } else if body.contains("size limit exceeded") {
        Verdict::TooLarge
    } else {
        Verdict::Error(reply.to_string())
    }
}

/// Turns clamd's `VERSION` answer (`ClamAV 1.0.7/27000/Tue Nov 25 09:23:45 2026`) into
/// (version, definition time as ISO-8601 or "").
fn parse_version(reply: &str) -> (String, String) {
    let text = reply.trim().trim_start_matches("ClamAV ").to_string();
    let mut parts = text.splitn(3, '/');
    let engine = parts.next().unwrap_or_default();
    let database = parts.next();
    let date = parts.next().map(iso_from_clamd_date).unwrap_or_default();
    let version = match database {
        Some(database) => format!("{engine}/{database}"),
        None => engine.to_string(),
    };
    (version, date)
}

/// `Tue Nov 25 09:23:45 2026` → `2026-11-25T09:23:45.000Z` (clamd reports its local time; Palisade
/// assumes UTC like the rest of its timestamps).
fn iso_from_clamd_date(text: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [_, month, day, time, year] = fields[..] else {
        return String::new();
    };
    let Some(month) = MONTHS.iter().position(|m| *m == month) else {
        return String::new();
    };
    let Ok(day) = day.parse::<u32>() else {
        return String::new();
    };
    format!("{year}-{:02}-{day:02}T{time}.000Z", month + 1)
}

/// A clamd daemon as an engine.
pub struct ClamavEngine {
    descriptor: EngineDescriptor,
    settings: ClamavSettings,
    status: StatusCell,
    /// Open sessions waiting for their next scan, with when they were last used.
    idle: Mutex<Vec<(Connection, Instant)>>,
}

/// Sessions idle longer than this are closed rather than reused (clamd's own IdleTimeout is 30 s).
const SESSION_REUSE: Duration = Duration::from_secs(10);
/// Most idle sessions kept per engine.
const MAX_IDLE_SESSIONS: usize = 64;

/// How one attempt at a scan went wrong.
enum Attempt {
    /// Nothing came back on a reused session: clamd probably closed it; try a fresh one.
    StaleSession,
    Failed(EngineError),
}

impl ClamavEngine {
    pub fn new(settings: ClamavSettings) -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: settings.id.clone(),
                name: settings.name.clone(),
                stage: Stage::Antivirus,
                in_scan_details: true,
                kind: palisade_model::EngineKind::ClamAv,
                produces: None,
            },
            settings,
            status: StatusCell::default(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn probe(&self) -> EngineStatus {
        let reply = Connection::open(&self.settings.address, self.settings.timeout).and_then(
            |mut connection| {
                let stream = connection.stream();
                stream.write_all(b"zVERSION\0")?;
                read_reply(stream)
            },
        );
        match reply {
            Ok(reply) if reply.starts_with("ClamAV") => {
                let (version, def_time) = parse_version(&reply);
                EngineStatus::production(version, def_time)
            }
            Ok(reply) => EngineStatus::failed(format!("unexpected VERSION answer {reply:?}")),
            Err(error) => EngineStatus::failed(format!(
                "clamd at {} unreachable: {error}",
                self.settings.address
            )),
        }
    }

    /// An open session: an idle one if a recent one exists, else a new one.
    fn session(&self) -> Result<(Connection, bool), EngineError> {
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            while let Some((connection, since)) = idle.pop() {
                if since.elapsed() < SESSION_REUSE {
                    return Ok((connection, true));
                }
            }
        }
        let mut connection = Connection::open(&self.settings.address, self.settings.timeout)
            .map_err(|e| EngineError::Failed(format!("clamd unreachable: {e}")))?;
        connection
            .stream()
            .write_all(b"zIDSESSION\0")
            .map_err(|e| EngineError::Failed(format!("clamd unreachable: {e}")))?;
        Ok((connection, false))
    }

    fn scan_stream(&self, sample: &Sample<'_>) -> Result<Verdict, EngineError> {
        match self.scan_once(sample) {
            Err(Attempt::StaleSession) => match self.scan_once(sample) {
                Err(Attempt::StaleSession) => Err(EngineError::Failed(
                    "clamd closed the connection without answering".into(),
                )),
                Err(Attempt::Failed(error)) => Err(error),
                Ok(verdict) => Ok(verdict),
            },
            Err(Attempt::Failed(error)) => Err(error),
            Ok(verdict) => Ok(verdict),
        }
    }

    fn scan_once(&self, sample: &Sample<'_>) -> Result<Verdict, Attempt> {
        let mut file =
            std::fs::File::open(sample.path).map_err(|e| Attempt::Failed(EngineError::Io(e)))?;
        let (mut connection, reused) = self.session().map_err(Attempt::Failed)?;
        let stream = connection.stream();
        let sent = (|| -> std::io::Result<()> {
            stream.write_all(b"zINSTREAM\0")?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                let length = u32::try_from(n).map_err(std::io::Error::other)?;
                stream.write_all(&length.to_be_bytes())?;
                stream.write_all(&buf[..n])?;
            }
            stream.write_all(&0u32.to_be_bytes())
        })();
        // clamd may stop reading (size limit) and answer early: its answer says why.
        let verdict = match (sent, read_reply(stream)) {
            (_, Ok(reply)) if !reply.is_empty() => parse_scan_reply(strip_session_id(&reply)),
            (_, Err(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Attempt::Failed(EngineError::Failed(format!(
                    "clamd did not answer within {} s",
                    self.settings.timeout.as_secs_f64()
                ))));
            }
            _ if reused => return Err(Attempt::StaleSession),
            (Err(error), _) => {
                return Err(Attempt::Failed(EngineError::Failed(format!(
                    "sending to clamd failed: {error}"
                ))));
            }
            (Ok(()), Err(error)) => {
                return Err(Attempt::Failed(EngineError::Failed(format!(
                    "no answer from clamd: {error}"
                ))));
            }
            (Ok(()), Ok(_)) => {
                return Err(Attempt::Failed(EngineError::Failed(
                    "clamd closed without answering".into(),
                )));
            }
        };
        if matches!(verdict, Verdict::Clean | Verdict::Found(_)) {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_SESSIONS {
                idle.push((connection, Instant::now()));
            }
        }
        Ok(verdict)
    }

    /// Sessions open and waiting for a scan.
    pub fn idle_sessions(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Engine for ClamavEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    /// The last health check's result; clamd is asked only when there is none yet.
    fn status(&self) -> EngineStatus {
        self.status.current()
    }

    fn refresh(&self) -> EngineStatus {
        let status = self.probe();
        if !status.state.is_production() {
            // Sessions to a daemon that went away are useless now.
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        self.status.set(status)
    }

    fn scan(&self, sample: &Sample<'_>, _context: &ScanContext) -> Result<Finding, EngineError> {
        let verdict = self.scan_stream(sample);
        // A failed scan may mean the daemon went down, a good one that it came back: when the
        // known health says otherwise, check again now rather than at the next periodic check.
        let healthy = self.status.get().map(|s| s.state.is_production());
        if healthy != Some(verdict.is_ok()) {
            self.refresh();
        }
        match verdict? {
            Verdict::Clean => Ok(Finding::clean()),
            Verdict::Found(name) => Ok(Finding {
                result: palisade_model::ScanResult::Infected,
                threat_found: name,
                ..Finding::clean()
            }),
            Verdict::TooLarge => Err(EngineError::NotScanned(
                "file is larger than clamd's StreamMaxLength".into(),
            )),
            Verdict::Error(reply) => Err(EngineError::Failed(format!("clamd: {reply}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_versions_parse() {
        assert_eq!(parse_scan_reply("stream: OK"), Verdict::Clean);
        assert_eq!(strip_session_id("12: stream: OK"), "stream: OK");
        assert_eq!(strip_session_id("stream: OK"), "stream: OK");
        assert_eq!(
            parse_scan_reply("stream: Test.EICAR.HDB.UNOFFICIAL FOUND"),
            Verdict::Found("Test.EICAR.HDB.UNOFFICIAL".into())
        );
        assert_eq!(
            parse_scan_reply("INSTREAM size limit exceeded. ERROR"),
            Verdict::TooLarge
        );
        assert!(matches!(
            parse_scan_reply("UNKNOWN COMMAND"),
            Verdict::Error(_)
        ));
        assert_eq!(
            parse_version("ClamAV 1.0.7/27000/Tue Nov  4 09:23:45 2026"),
            (
                "1.0.7/27000".to_string(),
                "2026-11-04T09:23:45.000Z".to_string()
            )
        );
        assert_eq!(
            parse_version("ClamAV 1.0.7"),
            ("1.0.7".to_string(), String::new())
        );
        assert!(ClamdAddress::parse("tcp:127.0.0.1:3310").is_ok());
        assert_eq!(
            ClamdAddress::parse("/run/clamd.sock").unwrap(),
            ClamdAddress::Unix("/run/clamd.sock".into())
        );
        assert!(ClamdAddress::parse("clamd").is_err());
    }
}
