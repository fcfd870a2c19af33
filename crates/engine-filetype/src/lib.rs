//! File type engine: identifies the format from content (the `file-format` crate) and maps it to
//! the document's MIME type, description and type category letters.

use file_format::{FileFormat, Kind};
use palisade_model::{FileTypeDetails, FileTypeInfo};
use palisade_pipeline::{
    Engine, EngineDescriptor, EngineError, EngineStatus, FileTypeFinding, Finding, Sample,
    ScanContext, Section, Stage,
};

/// The built-in file type engine.
pub struct FileTypeEngine {
    descriptor: EngineDescriptor,
}

impl Default for FileTypeEngine {
    fn default() -> Self {
        Self {
            descriptor: EngineDescriptor {
                id: "filetype".into(),
                name: "File type analysis".into(),
                stage: Stage::FileType,
                in_scan_details: false,
                kind: palisade_model::EngineKind::FileType,
                produces: None,
            },
        }
    }
}

/// The document's type category letter(s) for a detected format.
pub fn type_category(format: FileFormat) -> (&'static str, &'static str) {
    let media = format.media_type();
    if media == "application/pdf" {
        return ("P", "PDF format");
    }
    if media == "message/rfc822" || media == "application/vnd.ms-outlook" {
        return ("Z", "Mail messages");
    }
    match format.kind() {
        Kind::Archive | Kind::Compressed | Kind::Package => ("A", "Archive files"),
        Kind::Executable | Kind::Rom => ("E", "Executables"),
        Kind::Image | Kind::Diagram => ("G", "Graphical format"),
        Kind::Audio | Kind::Video | Kind::Playlist => ("M", "Audio or video format"),
        Kind::Disk => ("I", "Disk image"),
        Kind::Document | Kind::Spreadsheet | Kind::Presentation | Kind::Ebook => ("D", "Document"),
        _ if media.starts_with("text/") || format == FileFormat::PlainText => ("T", "Text"),
        _ => ("O", "Other"),
    }
}

/// Identifies the format of the file at `sample.path`.
pub fn identify(sample: &Sample<'_>) -> std::io::Result<FileTypeFinding> {
    let format = FileFormat::from_file(sample.path)?;
    let container = palisade_extract::detect_file(sample.path)?;
    Ok(describe(format, container))
}

/// Identifies the format of bytes already in memory (small uploads).
pub fn identify_bytes(bytes: &[u8]) -> FileTypeFinding {
    describe(
        FileFormat::from_bytes(bytes),
        palisade_extract::detect_bytes(bytes),
    )
}

/// What a file is, from the general identification and the container Palisade's extraction
/// recognises in it. A container counts as an archive (`A`) unless the general identification
/// knows it as something more specific: a Word file is a compound file and an Office document
/// a zip, but they are analysed as documents. An installer is an executable and an archive, a
/// disk image an image and an archive.
fn describe(format: FileFormat, container: Option<palisade_extract::Format>) -> FileTypeFinding {
    let (mut letter, mut group_description) = type_category(format);
    let mut mime_type = format.media_type();
    let mut description = format.name();
    let mut type_id = format
        .short_name()
        .map(str::to_string)
        .unwrap_or_else(|| format.extension().to_ascii_uppercase());
    let mut categories = vec![letter.to_string()];
    if let Some(container) = container
        && letter != "A"
    {
        // What general identification calls only by its encoding: unknown bytes, text, or a
        // compound file that extraction knows to be an Outlook message.
        let generic = matches!(
            format,
            FileFormat::ArbitraryBinaryData | FileFormat::PlainText
        ) || (format == FileFormat::CompoundFileBinary
            && container == palisade_extract::Format::OutlookMsg);
        let (container_letter, container_group) = if container.is_mail() {
            ("Z", "Mail messages")
        } else {
            ("A", "Archive files")
        };
        if generic {
            // General identification knows nothing better: the container is what it is.
            (mime_type, description) = container.media_type();
            (letter, group_description) = (container_letter, container_group);
            type_id = format!("{container:?}").to_ascii_uppercase();
            categories = vec![letter.to_string()];
        } else if matches!(format.kind(), Kind::Executable | Kind::Disk | Kind::Other)
            && letter != container_letter
        {
            categories.push(container_letter.to_string());
        }
    }
    FileTypeFinding {
        mime_type: mime_type.to_string(),
        description: description.to_string(),
        type_category: categories.clone(),
        info: FileTypeInfo {
            file_info: FileTypeDetails {
                description: description.to_string(),
                detected_by: "content".into(),
                encrypted: false,
                extensions: format.extension().to_string(),
                group_id: letter.into(),
                group_ids: categories,
                group_description: group_description.into(),
                mime_type: mime_type.to_string(),
                type_id,
            },
        },
    }
}

/// Bytes searched at each end of a PDF for its encryption dictionary.
const PDF_WINDOW: u64 = 1 << 20;
/// Office containers up to this size are searched whole for the encrypted package stream.
const CFB_WINDOW: u64 = 32 << 20;

/// Whether a file is a password-protected document, and which kind: a PDF with an `/Encrypt`
/// dictionary, or an Office file encrypted with a password (an OLE container holding an
/// `EncryptedPackage` stream). Legacy binary Office encryption is not recognised.
pub fn protected_document(path: &std::path::Path) -> std::io::Result<Option<&'static str>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let mut magic = [0u8; 8];
    let read = file.read(&mut magic)?;
    let magic = &magic[..read];
    let mut window = |from: u64, size: u64| -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(from))?;
        (&mut file).take(size).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    if magic.starts_with(b"%PDF-") {
        let head = window(0, PDF_WINDOW)?;
        let tail = window(length.saturating_sub(PDF_WINDOW), PDF_WINDOW)?;
        if contains(&head, b"/Encrypt") || contains(&tail, b"/Encrypt") {
            return Ok(Some("password-protected PDF"));
        }
    } else if magic == [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] {
        let name: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        if contains(&window(0, CFB_WINDOW)?, &name) {
            return Ok(Some("password-protected Office document"));
        }
    }
    Ok(None)
}

impl Engine for FileTypeEngine {
    fn descriptor(&self) -> &EngineDescriptor {
        &self.descriptor
    }

    fn status(&self) -> EngineStatus {
        EngineStatus::production("file-format 0.28", "")
    }

    fn scan(&self, sample: &Sample<'_>, _context: &ScanContext) -> Result<Finding, EngineError> {
        let finding = identify(sample)?;
        let protected = protected_document(sample.path)?;
        Ok(Finding {
            section: Section::FileType(Box::new(finding)),
            ..match protected {
                // Its content cannot be analysed: Password Protected Document (15), never clean.
                Some(kind) => Finding {
                    result: palisade_model::ScanResult::PasswordProtectedDocument,
                    threat_found: kind.into(),
                    section: Section::None,
                    outputs: Vec::new(),
                },
                None => Finding::clean(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::FileHashes;

    fn identify_both(bytes: &[u8]) -> FileTypeFinding {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample");
        std::fs::write(&path, bytes).unwrap();
        let hashes = FileHashes::default();
        let sample = Sample {
            path: &path,
            size: bytes.len() as u64,
            display_name: "sample",
            hashes: &hashes,
        };
        let from_file = identify(&sample).unwrap();
        assert_eq!(
            from_file,
            super::identify_bytes(bytes),
            "file and memory agree"
        );
        from_file
    }

    #[test]
    fn recognises_common_formats_with_their_categories() {
        let pdf = identify_both(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n");
        assert_eq!(pdf.mime_type, "application/pdf");
        assert_eq!(pdf.type_category, vec!["P"]);

        let png = identify_both(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0");
        assert_eq!(png.mime_type, "image/png");
        assert_eq!(png.type_category, vec!["G"]);

        let zip = identify_both(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(zip.type_category, vec!["A"]);

        // A DOS header whose e_lfanew points at a PE signature and a COFF header for i386.
        let mut exe = vec![0u8; 0x200];
        exe[0..2].copy_from_slice(b"MZ");
        exe[0x3c] = 0x80;
        exe[0x80..0x84].copy_from_slice(b"PE\0\0");
        exe[0x84..0x86].copy_from_slice(&0x14cu16.to_le_bytes());
        exe[0x94..0x96].copy_from_slice(&0xe0u16.to_le_bytes());
        exe[0x96..0x98].copy_from_slice(&0x0102u16.to_le_bytes());
        exe[0x98..0x9a].copy_from_slice(&0x10bu16.to_le_bytes());
        let exe = identify_both(&exe);
        assert_eq!(exe.type_category, vec!["E"], "{:?}", exe.description);

        let text = identify_both(b"hello world, just some words\n");
        assert_eq!(text.mime_type, "text/plain");
        assert_eq!(text.type_category, vec!["T"]);
        assert_eq!(text.info.file_info.group_id, "T");
    }
}
