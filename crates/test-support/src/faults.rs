//! Engines that fail the way crafted documents make parsers fail: they abort, overflow the
//! stack, allocate 8 GiB, spin forever or write 10 GiB; and an archive opener that fails the
//! same ways on crafted archives. Built into the server binary only with its `fault-engines`
//! feature (for the parser-process tests); never in a release.

use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, Finding, Sample, ScanContext, Stage,
};

/// How a [`FaultEngine`] fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Abort,
    StackOverflow,
    Allocate8Gib,
    Spin,
    Write10Gib,
    /// Tries to read `/etc/hostname`, outside the directories a parser process may read.
    ReadOutside,
}

impl Fault {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "abort" => Fault::Abort,
            "stack-overflow" => Fault::StackOverflow,
            "allocate-8gib" => Fault::Allocate8Gib,
            "spin" => Fault::Spin,
            "write-10gib" => Fault::Write10Gib,
            "read-outside" => Fault::ReadOutside,
            _ => return None,
        })
    }
}

/// An engine that fails with its [`Fault`] on files containing `FAULT-NOW`, and finds every
/// other file clean (so the same engine scans normally between faults); the writer then
/// returns a copy of the file.
pub struct FaultEngine {
    descriptor: EngineDescriptor,
    fault: Fault,
}

impl FaultEngine {
    pub fn new(id: &str, name: &str, fault: Fault) -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: id.into(),
                name: name.into(),
                // The writer is a post-processing step (it writes into its output directory).
                stage: if fault == Fault::Write10Gib {
                    Stage::Cdr
                } else {
                    Stage::Antivirus
                },
                in_scan_details: fault != Fault::Write10Gib,
                kind: palisade_model::EngineKind::Command,
                produces: (fault == Fault::Write10Gib)
                    .then_some(palisade_model::OutputKind::Sanitized),
            },
            fault,
        }
    }
}

/// Recurses until the stack is gone (each frame keeps 4 KiB alive).
fn deep(n: u64) -> u64 {
    let frame = std::hint::black_box([n as u8; 4096]);
    if n == 0 {
        0
    } else {
        deep(n - 1).wrapping_add(u64::from(frame[7]))
    }
}

/// The faults that end the process (or never end): abort, stack overflow, 8 GiB, spin.
fn crash(fault: Fault) {
    match fault {
        Fault::Abort => std::process::abort(),
        Fault::StackOverflow => {
            std::hint::black_box(deep(std::hint::black_box(u64::MAX)));
        }
        Fault::Allocate8Gib => {
            let block = vec![1u8; 8 << 30];
            std::hint::black_box(&block);
        }
        Fault::Spin => loop {
            std::hint::black_box(0u64);
        },
        Fault::ReadOutside | Fault::Write10Gib => {}
    }
}

/// Writes 10 GiB into `path`, 1 MiB at a time.
fn write_10_gib(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..10 * 1024 {
        file.write_all(&chunk)?;
    }
    Ok(())
}

fn has_marker(path: &std::path::Path) -> std::io::Result<bool> {
    let bytes = std::fs::read(path)?;
    Ok(bytes.windows(9).any(|w| w == b"FAULT-NOW"))
}

fn fail(fault: Fault, context: &ScanContext) -> Result<Finding, EngineError> {
    match fault {
        Fault::Abort | Fault::StackOverflow | Fault::Allocate8Gib | Fault::Spin => {
            crash(fault);
            Ok(Finding::clean())
        }
        Fault::ReadOutside => match std::fs::read("/etc/hostname") {
            Ok(_) => Ok(Finding::of(
                palisade_model::ScanResult::Infected,
                "read /etc/hostname outside its directories",
            )),
            Err(error) => Err(EngineError::Failed(format!(
                "cannot read /etc/hostname: {error}"
            ))),
        },
        Fault::Write10Gib => {
            write_10_gib(&context.output_dir()?.join("huge"))?;
            Ok(Finding::clean())
        }
    }
}

impl Engine for FaultEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        EngineStatus::production("fault 1.0", "")
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        if has_marker(sample.path)? {
            return fail(self.fault, context);
        }
        let bytes = std::fs::read(sample.path)?;
        if let Some(kind) = self.descriptor.produces {
            // Otherwise the writer makes an ordinary copy, as a sanitizer would.
            let path = context.output_dir()?.join("copy");
            std::fs::write(&path, &bytes)?;
            return Ok(Finding {
                outputs: vec![palisade_pipeline::OutputFile {
                    kind,
                    name: sample.display_name.to_string(),
                    path,
                }],
                ..Finding::clean()
            });
        }
        Ok(Finding::clean())
    }
}

/// Opens archives like the real extractor, except that an archive containing `FAULT-NOW` makes
/// it fail with its [`Fault`] (write-10gib writes into the extraction folder; read-outside
/// reports whether it could read `/etc/hostname`).
#[derive(Debug)]
pub struct FaultOpener {
    pub fault: Fault,
}

impl palisade_extract::Opener for FaultOpener {
    fn open(
        &self,
        extractor: &palisade_extract::Extractor<'_>,
        archive: &std::path::Path,
        format: palisade_extract::Format,
    ) -> Result<palisade_extract::Outcome, palisade_extract::ExtractError> {
        use palisade_extract::ExtractError;
        if has_marker(archive)? {
            crash(self.fault);
            match self.fault {
                Fault::Write10Gib => write_10_gib(&extractor.out_dir.join("member-000000"))?,
                Fault::ReadOutside => {
                    let read = std::fs::read("/etc/hostname");
                    return Err(ExtractError::Corrupt(format!(
                        "read /etc/hostname: {}",
                        read.map_or_else(|e| e.to_string(), |_| "allowed".into())
                    )));
                }
                _ => {}
            }
        }
        palisade_extract::InProcess.open(extractor, archive, format)
    }
}

/// A real engine that fails with its [`Fault`] on files containing `FAULT-NOW`, as a parser
/// does on a crafted document, and otherwise scans as itself (the Deep CDR parser process of
/// the `fault-engines` build, chosen by `PALISADE_TEST_CDR_FAULT`).
pub struct FaultyParser {
    pub inner: std::sync::Arc<dyn Engine>,
    pub fault: Fault,
}

impl Engine for FaultyParser {
    fn descriptor(&self) -> &EngineDescriptor {
        self.inner.descriptor()
    }

    fn status(&self) -> EngineStatus {
        self.inner.status()
    }

    fn scan(&self, sample: &Sample<'_>, context: &ScanContext) -> Result<Finding, EngineError> {
        if has_marker(sample.path)? {
            return fail(self.fault, context);
        }
        self.inner.scan(sample, context)
    }
}
