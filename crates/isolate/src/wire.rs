//! The parent–child protocol: length-prefixed JSON frames over the child's stdin and stdout.
//! A request is one sample for the child's engine, or one archive to open. The child answers
//! with the result; while it opens an archive it may first ask the parent to charge the
//! submission's shared budget ([`Take`]), and the parent answers each ask with `true` or
//! `false`.

use std::io::{Read, Write};
use std::path::PathBuf;

use palisade_extract::{Format, Outcome, Terms};
use palisade_model::{
    CdrPolicy, DlpInfo, DlpPolicy, FileHashes, FileTypeInfo, OutputKind, SanitizationDetails,
    ScanResult, YaraSection,
};
use palisade_pipeline::{EngineError, FileTypeFinding, Finding, OutputFile, Section};
use serde::{Deserialize, Serialize};

/// The largest frame either side accepts (a finding with many YARA hits stays far below).
const MAX_FRAME: u32 = 16 << 20;

/// What the parent asks of a child.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    Scan(Box<ScanRequest>),
    Extract(ExtractRequest),
}

impl Request {
    /// The file the request is about, for logs.
    pub(crate) fn display_name(&self) -> &str {
        match self {
            Request::Scan(scan) => &scan.display_name,
            Request::Extract(extract) => &extract.display_name,
        }
    }
}

/// One archive to open into `out_dir`, under the submission's `terms`; members and bytes are
/// charged to the parent's budget through [`Take`] asks.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ExtractRequest {
    pub archive: PathBuf,
    pub format: Format,
    pub out_dir: PathBuf,
    pub passwords: Vec<String>,
    pub display_name: String,
    pub terms: Terms,
}

/// What a child sends the parent.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Charge the shared budget (answered with `true` or `false`); the call goes on.
    Take(Take),
    /// The engine's result: the call is over.
    Scanned(Answer),
    /// What opening the archive came to (the error's text when it failed): the call is over.
    Extracted(Result<Outcome, String>),
}

/// A charge to the shared extraction budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Take {
    Member,
    Bytes(u64),
}

/// One sample for the child's engine.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ScanRequest {
    pub path: PathBuf,
    pub size: u64,
    pub display_name: String,
    pub hashes: FileHashes,
    pub timeout_ms: u64,
    pub max_bytes: u64,
    pub output_dir: Option<PathBuf>,
    pub cdr: CdrPolicy,
    pub dlp: DlpPolicy,
}

/// What the engine in the child answered.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    Found(Box<WireFinding>),
    Failed(String),
    NotScanned(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireFinding {
    result: i32,
    threat_found: String,
    section: WireSection,
    outputs: Vec<(OutputKind, String, PathBuf)>,
}

#[derive(Debug, Serialize, Deserialize)]
enum WireSection {
    None,
    FileType(Box<WireFileType>),
    Yara(YaraSection),
    Sanitization(Box<SanitizationDetails>),
    Dlp(Box<DlpInfo>),
}

#[derive(Debug, Serialize, Deserialize)]
struct WireFileType {
    mime_type: String,
    description: String,
    type_category: Vec<String>,
    info: FileTypeInfo,
}

impl Answer {
    pub(crate) fn of(result: Result<Finding, EngineError>) -> Self {
        match result {
            Ok(finding) => Answer::Found(Box::new(WireFinding {
                result: finding.result.code(),
                threat_found: finding.threat_found,
                section: match finding.section {
                    Section::None => WireSection::None,
                    Section::FileType(file_type) => WireSection::FileType(Box::new(WireFileType {
                        mime_type: file_type.mime_type,
                        description: file_type.description,
                        type_category: file_type.type_category,
                        info: file_type.info,
                    })),
                    Section::Yara(yara) => WireSection::Yara(yara),
                    Section::Sanitization(details) => WireSection::Sanitization(details),
                    Section::Dlp(info) => WireSection::Dlp(info),
                },
                outputs: finding
                    .outputs
                    .into_iter()
                    .map(|o| (o.kind, o.name, o.path))
                    .collect(),
            })),
            Err(EngineError::NotScanned(reason)) => Answer::NotScanned(reason),
            Err(other) => Answer::Failed(other.to_string()),
        }
    }

    pub(crate) fn into_result(self) -> Result<Finding, EngineError> {
        match self {
            Answer::Found(wire) => Ok(Finding {
                result: ScanResult::from_code(wire.result).unwrap_or(ScanResult::Failed),
                threat_found: wire.threat_found,
                section: match wire.section {
                    WireSection::None => Section::None,
                    WireSection::FileType(file_type) => {
                        Section::FileType(Box::new(FileTypeFinding {
                            mime_type: file_type.mime_type,
                            description: file_type.description,
                            type_category: file_type.type_category,
                            info: file_type.info,
                        }))
                    }
                    WireSection::Yara(yara) => Section::Yara(yara),
                    WireSection::Sanitization(details) => Section::Sanitization(details),
                    WireSection::Dlp(info) => Section::Dlp(info),
                },
                outputs: wire
                    .outputs
                    .into_iter()
                    .map(|(kind, name, path)| OutputFile { kind, name, path })
                    .collect(),
            }),
            Answer::Failed(reason) => Err(EngineError::Failed(reason)),
            Answer::NotScanned(reason) => Err(EngineError::NotScanned(reason)),
        }
    }
}

/// Writes one frame: a 4-byte big-endian length, then the JSON.
pub(crate) fn write_frame(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other("frame too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one frame; `None` at a clean end of input (before a frame starts).
pub(crate) fn read_frame<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut bytes = vec![0u8; len as usize];
    input.read_exact(&mut bytes)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_cross_the_pipe_unchanged() {
        let finding = Finding {
            result: ScanResult::Infected,
            threat_found: "Eicar".into(),
            section: Section::FileType(Box::new(FileTypeFinding {
                mime_type: "application/pdf".into(),
                description: "PDF".into(),
                type_category: vec!["D".into()],
                info: FileTypeInfo::default(),
            })),
            outputs: vec![OutputFile {
                kind: OutputKind::Sanitized,
                name: "a.pdf".into(),
                path: "/tmp/out/a.pdf".into(),
            }],
        };
        let mut pipe = Vec::new();
        write_frame(&mut pipe, &Answer::of(Ok(finding.clone()))).unwrap();
        write_frame(
            &mut pipe,
            &Answer::of(Err(EngineError::NotScanned("too big".into()))),
        )
        .unwrap();
        let sanitized = Finding {
            result: ScanResult::BlockedVerdictByDeepCdr,
            threat_found: String::new(),
            section: Section::Sanitization(Box::new(SanitizationDetails {
                description: "blocked".into(),
                details: vec![palisade_model::SanitizedObject {
                    action: palisade_model::CdrAction::Removed,
                    count: 2,
                    object_name: "JavaScript".into(),
                    object_details: vec!["app.alert(1)".into()],
                    file_name: String::new(),
                    description: String::new(),
                    details: Vec::new(),
                }],
                partial: true,
                ..SanitizationDetails::default()
            })),
            outputs: Vec::new(),
        };
        write_frame(&mut pipe, &Answer::of(Ok(sanitized.clone()))).unwrap();
        let mut reader = pipe.as_slice();
        let first: Answer = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(first.into_result().unwrap(), finding);
        let second: Answer = read_frame(&mut reader).unwrap().unwrap();
        assert!(matches!(
            second.into_result(),
            Err(EngineError::NotScanned(reason)) if reason == "too big"
        ));
        let cdr: Answer = read_frame(&mut reader).unwrap().unwrap();
        assert_eq!(cdr.into_result().unwrap(), sanitized);
        assert!(
            read_frame::<Answer>(&mut reader).unwrap().is_none(),
            "clean end"
        );
    }

    #[test]
    fn an_extraction_and_its_budget_asks_cross_the_pipe_unchanged() {
        let outcome = Outcome {
            members: vec![palisade_extract::Member {
                index: 0,
                name: "docs/a.txt".into(),
                path: "/tmp/extract-1/member-000000".into(),
                size: 12,
            }],
            skipped: vec![("link".into(), "symbolic link (not followed)".into())],
            encrypted: true,
            decrypted: Some(false),
            stopped: Some(palisade_extract::Limit::FileNumber),
        };
        let mut pipe = Vec::new();
        write_frame(&mut pipe, &Reply::Take(Take::Bytes(1 << 20))).unwrap();
        write_frame(&mut pipe, &Reply::Extracted(Ok(outcome))).unwrap();
        let mut reader = pipe.as_slice();
        assert!(matches!(
            read_frame::<Reply>(&mut reader).unwrap(),
            Some(Reply::Take(Take::Bytes(1048576)))
        ));
        let Some(Reply::Extracted(Ok(back))) = read_frame::<Reply>(&mut reader).unwrap() else {
            panic!("an extraction reply");
        };
        assert_eq!(back.members[0].name, "docs/a.txt");
        assert_eq!(back.skipped.len(), 1);
        assert_eq!(back.decrypted, Some(false));
        assert_eq!(back.stopped, Some(palisade_extract::Limit::FileNumber));
    }
}
