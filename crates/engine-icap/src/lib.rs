//! ICAP engine: sends each file to an antivirus ICAP service with RESPMOD (RFC 3507), using a
//! preview when the service offers one.
//!
//! The file travels as the body of an HTTP response. `204 No Content` means the service let it
//! through unchanged. Infection headers (`X-Infection-Found`, `X-Violations-Found`,
//! `X-Virus-ID`) make it Infected with the named threat; a replacement response that blocks
//! (HTTP 4xx/5xx) without naming a threat is Suspicious. ICAP errors, timeouts and an unreachable
//! service are Failed: never clean.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use palisade_model::ScanResult;
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Sample, ScanContext, Stage,
};

/// An `icap://host[:port]/service[?query]` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcapUrl {
    pub host: String,
    pub port: u16,
    /// Service path with its query, starting with `/`.
    pub service: String,
}

impl IcapUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("ICAP URL {text:?}: use icap://host[:port]/service");
        let rest = text.strip_prefix("icap://").ok_or_else(bad)?;
        let (authority, service) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => return Err(bad()),
        };
        if service.len() < 2 {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority, 1344),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            service: service.to_string(),
        })
    }

    fn request_uri(&self) -> String {
        format!("icap://{}:{}{}", self.host, self.port, self.service)
    }
}

/// One configured ICAP service.
#[derive(Clone, Debug)]
pub struct IcapSettings {
    pub id: String,
    pub name: String,
    pub url: IcapUrl,
    /// Limit on connecting and on each read or write.
    pub timeout: Duration,
}

/// What the service's OPTIONS answer told us.
#[derive(Clone, Debug, Default)]
struct Options {
    /// Preview size the service asked for, if it supports previews.
    preview: Option<usize>,
    service: String,
    istag: String,
}

struct Health {
    status: EngineStatus,
    options: Option<Options>,
    /// When the current ISTag was first seen: the service changes its ISTag when its
    /// definitions change, so this is the best available definition time.
    istag_seen: Option<(String, SystemTime)>,
}

/// An antivirus ICAP service as an engine.
pub struct IcapEngine {
    descriptor: EngineDescriptor,
    settings: IcapSettings,
    health: Mutex<Option<Health>>,
}

/// A parsed ICAP response head.
#[derive(Debug, Default)]
struct Response {
    status: u16,
    reason: String,
    /// Header names lower-cased; folded continuation lines kept as separate entries of the value.
    headers: Vec<(String, Vec<String>)>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&[String]> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_slice())
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|lines| lines.first())
            .map(String::as_str)
    }
}

const MAX_HEAD: usize = 64 * 1024;

/// Reads lines up to the blank line that ends a head, at most `MAX_HEAD` bytes.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - total + 1) as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before the end of the ICAP head",
            ));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(std::io::Error::other("ICAP head larger than 64 KiB"));
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if text.is_empty() {
            return Ok(lines);
        }
        lines.push(text);
    }
}

fn parse_response(lines: &[String]) -> Result<Response, String> {
    let status_line = lines.first().ok_or("empty ICAP response")?;
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("malformed ICAP status line {status_line:?}"));
    };
    if !version.starts_with("ICAP/") {
        return Err(format!("not an ICAP response: {status_line:?}"));
    }
    let status = code
        .parse::<u16>()
        .map_err(|_| format!("malformed ICAP status line {status_line:?}"))?;
    let mut response = Response {
        status,
        reason: parts.next().unwrap_or_default().to_string(),
        headers: Vec::new(),
    };
    for line in &lines[1..] {
        if line.starts_with([' ', '\t']) {
            if let Some((_, values)) = response.headers.last_mut() {
                values.push(line.trim().to_string());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            response.headers.push((
                name.trim().to_ascii_lowercase(),
                vec![value.trim().to_string()],
            ));
        }
    }
    Ok(response)
}

/// The threat a response names, from whichever infection header the product uses.
fn threat_name(response: &Response) -> Option<String> {
    if let Some(value) = response.first("x-infection-found") {
        let named = value
            .split(';')
            .filter_map(|part| part.trim().strip_prefix("Threat="))
            .map(str::trim)
            .find(|name| !name.is_empty());
        return Some(named.unwrap_or(value).to_string());
    }
    if let Some(name) = response.first("x-virus-id").filter(|v| !v.is_empty()) {
        return Some(name.to_string());
    }
    if let Some(lines) = response.header("x-violations-found") {
        // Count, then per violation: file name, threat name, threat id, disposition.
        let count = lines
            .first()
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(1);
        if count > 0 {
            let name = lines
                .get(2)
                .cloned()
                .unwrap_or_else(|| "violation reported by ICAP service".into());
            return Some(name);
        }
    }
    None
}

/// `Encapsulated: res-hdr=0, res-body=120` → offset of `name`.
fn encapsulated_offset(response: &Response, name: &str) -> Option<usize> {
    response.first("encapsulated")?.split(',').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().parse().ok())?
    })
}

fn io_failure(what: &str, error: std::io::Error) -> EngineError {
    let timed_out = matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    );
    if timed_out {
        EngineError::Failed(format!("ICAP service timed out {what}"))
    } else {
        EngineError::Failed(format!("ICAP service {what}: {error}"))
    }
}

fn write_chunk(stream: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    write!(stream, "{:x}\r\n", data.len())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")
}

impl IcapEngine {
    pub fn new(settings: IcapSettings) -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: settings.id.clone(),
                name: settings.name.clone(),
                stage: Stage::Antivirus,
                in_scan_details: true,
                kind: palisade_model::EngineKind::Icap,
                produces: None,
            },
            settings,
            health: Mutex::new(None),
        }
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let url = &self.settings.url;
        let mut last = None;
        for address in (url.host.as_str(), url.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&address, self.settings.timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(self.settings.timeout))?;
                    stream.set_write_timeout(Some(self.settings.timeout))?;
                    stream.set_nodelay(true)?;
                    return Ok(stream);
                }
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("host resolves to nothing")))
    }

    fn options(&self) -> Result<Options, String> {
        let url = &self.settings.url;
        let mut stream = self
            .connect()
            .map_err(|e| format!("ICAP service unreachable: {e}"))?;
        let request = format!(
            "OPTIONS {} ICAP/1.0\r\nHost: {}\r\nUser-Agent: Palisade\r\nEncapsulated: null-body=0\r\n\r\n",
            url.request_uri(),
            url.host
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("ICAP service unreachable: {e}"))?;
        let lines = read_head(&mut BufReader::new(&mut stream))
            .map_err(|e| format!("no OPTIONS answer: {e}"))?;
        let response = parse_response(&lines)?;
        if response.status != 200 {
            return Err(format!(
                "OPTIONS answered {} {}",
                response.status, response.reason
            ));
        }
        let methods = response.first("methods").unwrap_or_default();
        if !methods.to_ascii_uppercase().contains("RESPMOD") {
            return Err(format!(
                "service does not offer RESPMOD (Methods: {methods})"
            ));
        }
        Ok(Options {
            preview: response.first("preview").and_then(|p| p.parse().ok()),
            service: response
                .first("service")
                .or(response.first("server"))
                .unwrap_or_default()
                .to_string(),
            istag: response
                .first("istag")
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
        })
    }

    /// The options to scan with: the last OPTIONS answer, or a fresh one.
    fn current_options(&self) -> Result<Options, EngineError> {
        if let Some(options) = self.known_options() {
            return Ok(options);
        }
        let status = self.refresh();
        self.known_options().ok_or_else(|| {
            EngineError::Failed(
                status
                    .problems
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "ICAP service unavailable".into()),
            )
        })
    }

    fn known_options(&self) -> Option<Options> {
        let health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        health.as_ref().and_then(|h| h.options.clone())
    }

    fn respmod(&self, sample: &Sample<'_>, options: &Options) -> Result<Finding, EngineError> {
        let url = &self.settings.url;
        let mut file = std::fs::File::open(sample.path)?;
        let mut stream = self
            .connect()
            .map_err(|e| EngineError::Failed(format!("ICAP service unreachable: {e}")))?;

        let name = percent_encoding::utf8_percent_encode(
            sample.display_name,
            percent_encoding::NON_ALPHANUMERIC,
        );
        let http_request = format!("GET /{name} HTTP/1.1\r\nHost: palisade.local\r\n\r\n");
        let http_response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            sample.size
        );
        let preview = options.preview.map(|p| p.min(1 << 20));
        let mut head = format!(
            "RESPMOD {} ICAP/1.0\r\nHost: {}\r\nUser-Agent: Palisade\r\nAllow: 204\r\n",
            url.request_uri(),
            url.host
        );
        if let Some(size) = preview {
            head.push_str(&format!("Preview: {size}\r\n"));
        }
        head.push_str(&format!(
            "Encapsulated: req-hdr=0, res-hdr={}, res-body={}\r\n\r\n{http_request}{http_response}",
            http_request.len(),
            http_request.len() + http_response.len()
        ));

        let mut buf = vec![0u8; 64 * 1024];
        let mut reader = BufReader::new(stream.try_clone().map_err(EngineError::Io)?);
        let sent = (|| -> std::io::Result<Option<Vec<String>>> {
            stream.write_all(head.as_bytes())?;
            if let Some(size) = preview {
                let mut preview_data = Vec::with_capacity(size);
                (&mut file)
                    .take(size as u64)
                    .read_to_end(&mut preview_data)?;
                if !preview_data.is_empty() {
                    write_chunk(&mut stream, &preview_data)?;
                }
                // The whole file fits in the preview: say so, and the service answers at once.
                if preview_data.len() < size || preview_data.len() as u64 >= sample.size {
                    stream.write_all(b"0; ieof\r\n\r\n")?;
                    return Ok(None);
                }
                stream.write_all(b"0\r\n\r\n")?;
                let lines = read_head(&mut reader)?;
                if lines
                    .first()
                    .is_none_or(|l| l.split(' ').nth(1) != Some("100"))
                {
                    // The service decided on the preview alone.
                    return Ok(Some(lines));
                }
            }
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                write_chunk(&mut stream, &buf[..n])?;
            }
            stream.write_all(b"0\r\n\r\n")?;
            Ok(None)
        })();
        let lines = match sent {
            Ok(Some(lines)) => lines,
            // A service may answer before reading everything: its answer says why.
            Ok(None) | Err(_) => match read_head(&mut reader) {
                Ok(lines) => lines,
                Err(read_error) => {
                    return Err(match sent {
                        Err(error) => io_failure("stopped reading the file", error),
                        Ok(_) => io_failure("did not answer", read_error),
                    });
                }
            },
        };
        let response = parse_response(&lines).map_err(EngineError::Failed)?;
        self.interpret(&response, &mut reader)
    }

    fn interpret(
        &self,
        response: &Response,
        reader: &mut impl BufRead,
    ) -> Result<Finding, EngineError> {
        if let Some(threat) = threat_name(response) {
            return Ok(Finding {
                result: ScanResult::Infected,
                threat_found: threat,
                ..Finding::clean()
            });
        }
        match response.status {
            204 => Ok(Finding::clean()),
            200 => {
                // A replacement response: look at its HTTP status.
                let http_status = match encapsulated_offset(response, "res-hdr") {
                    Some(_) => read_head(reader)
                        .ok()
                        .and_then(|lines| {
                            lines
                                .first()
                                .and_then(|l| l.split(' ').nth(1).and_then(|c| c.parse().ok()))
                        })
                        .unwrap_or(0u16),
                    None => 0,
                };
                if (200..300).contains(&http_status) {
                    Ok(Finding::clean())
                } else {
                    Ok(Finding {
                        result: ScanResult::Suspicious,
                        threat_found: format!(
                            "ICAP service replaced the file with an HTTP {http_status} response"
                        ),
                        ..Finding::clean()
                    })
                }
            }
            status => Err(EngineError::Failed(format!(
                "ICAP service answered {status} {}",
                response.reason
            ))),
        }
    }
}

impl Engine for IcapEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        let known = self
            .health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|h| h.status.clone());
        known.unwrap_or_else(EngineStatus::not_checked)
    }

    fn refresh(&self) -> EngineStatus {
        let answer = self.options();
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let previous_tag = health.as_ref().and_then(|h| h.istag_seen.clone());
        let next = match answer {
            Ok(options) => {
                let seen = match previous_tag {
                    Some((tag, at)) if tag == options.istag => (tag, at),
                    _ => (options.istag.clone(), SystemTime::now()),
                };
                let millis = seen
                    .1
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
                Health {
                    status: EngineStatus::production(
                        options.service.clone(),
                        palisade_model::format_timestamp(millis),
                    ),
                    options: Some(options),
                    istag_seen: Some(seen),
                }
            }
            Err(problem) => Health {
                status: EngineStatus::failed(problem),
                options: None,
                istag_seen: previous_tag,
            },
        };
        let status = next.status.clone();
        *health = Some(next);
        status
    }

    fn scan(&self, sample: &Sample<'_>, _context: &ScanContext) -> Result<Finding, EngineError> {
        let options = self.current_options()?;
        let result = self.respmod(sample, &options);
        if result.is_err() {
            // The service may be gone or reconfigured: check now so status and options follow.
            self.refresh();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            IcapUrl::parse("icap://127.0.0.1:1344/avscan").unwrap(),
            IcapUrl {
                host: "127.0.0.1".into(),
                port: 1344,
                service: "/avscan".into()
            }
        );
        assert_eq!(
            IcapUrl::parse("icap://av.example/srv_clamav?x=1")
                .unwrap()
                .port,
            1344
        );
        assert!(IcapUrl::parse("http://x/avscan").is_err());
        assert!(IcapUrl::parse("icap://x").is_err());
        assert!(IcapUrl::parse("icap://x:notaport/s").is_err());
    }

    fn response(text: &str) -> Response {
        let lines: Vec<String> = text.split("\r\n").map(String::from).collect();
        parse_response(&lines).unwrap()
    }

    #[test]
    fn each_vendor_header_names_the_threat() {
        let c_icap = response(
            "ICAP/1.0 200 OK\r\nX-Infection-Found: Type=0; Resolution=2; Threat=Eicar-Test;",
        );
        assert_eq!(threat_name(&c_icap).as_deref(), Some("Eicar-Test"));
        let symantec = response("ICAP/1.0 201 Created\r\nX-Virus-ID: W32.Test");
        assert_eq!(threat_name(&symantec).as_deref(), Some("W32.Test"));
        let webwasher = response(
            "ICAP/1.0 200 OK\r\nX-Violations-Found: 1\r\n\tfile.exe\r\n\tEICAR test file\r\n\t111\r\n\t0",
        );
        assert_eq!(threat_name(&webwasher).as_deref(), Some("EICAR test file"));
        let clean = response("ICAP/1.0 204 No Content\r\nISTag: \"x\"");
        assert_eq!(threat_name(&clean), None);
        assert_eq!(
            encapsulated_offset(
                &response("ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0, res-body=87"),
                "res-body"
            ),
            Some(87)
        );
    }
}
