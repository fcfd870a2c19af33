//! Objects embedded in Office Open XML files (docx, xlsx, pptx): the parts under an
//! `embeddings` folder. An OLE object there (`oleObject1.bin`) is a compound file whose
//! `\x01Ole10Native` stream gives the packaged file; other parts (an embedded workbook or
//! document) are members as they are.

use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use super::Found;
use crate::{ExtractError, Extractor, Outcome};

/// Whether the zip at `path` has parts under an `embeddings` folder.
pub(super) fn has_embeddings(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(zip) = zip::ZipArchive::new(BufReader::new(file)) else {
        return false;
    };
    zip.file_names()
        .any(|name| name.is_ok_and(|name| is_embedding(&name)))
}

fn is_embedding(name: &str) -> bool {
    name.contains("/embeddings/") && !name.ends_with('/')
}

impl Extractor<'_> {
    pub(super) fn ooxml_objects(
        &self,
        path: &Path,
        outcome: &mut Outcome,
    ) -> Result<(), ExtractError> {
        let mut zip = zip::ZipArchive::new(BufReader::new(std::fs::File::open(path)?))
            .map_err(|e| ExtractError::Document(format!("Office file: {e}")))?;
        let names: Vec<String> = zip
            .file_names()
            .filter_map(Result::ok)
            .filter(|name| is_embedding(name))
            .map(|name| name.into_owned())
            .collect();
        let mut found = Found {
            extractor: self,
            outcome,
            stopped: false,
        };
        for name in names {
            let mut entry = zip
                .by_name(&name)
                .map_err(|e| ExtractError::Document(format!("Office part {name:?}: {e}")))?;
            let mut data = Vec::new();
            (&mut entry)
                .take(super::MAX_DOCUMENT)
                .read_to_end(&mut data)
                .map_err(|e| ExtractError::Document(format!("Office part {name:?}: {e}")))?;
            let short = name.rsplit('/').next().unwrap_or_default().to_string();
            let carry_on = match packaged(&data) {
                Some(native) => found.add_native(&native, &short)?,
                None => found.add(&short, &data)?,
            };
            if !carry_on {
                break;
            }
        }
        Ok(())
    }
}

/// The native data of an OLE object part that packages a file.
fn packaged(data: &[u8]) -> Option<Vec<u8>> {
    let mut file = cfb::CompoundFile::open(Cursor::new(data)).ok()?;
    let mut native = Vec::new();
    file.open_stream("/\u{1}Ole10Native")
        .ok()?
        .take(super::MAX_DOCUMENT)
        .read_to_end(&mut native)
        .ok()?;
    Some(native.get(4..)?.to_vec())
}
