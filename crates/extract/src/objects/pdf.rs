//! Files embedded in a PDF: every stream of type `EmbeddedFile`, whether the document's name
//! tree lists it or an annotation attaches it, named by the file specification that points
//! at it (`/UF`, else `/F`).

use std::collections::HashMap;

use lopdf::{Document, LoadOptions, Object, ObjectId};

use super::Found;
use crate::{ExtractError, find};

/// Most bytes one embedded file may decode to (the budget counts them again as they are
/// written).
const MAX_DECODED: usize = 1 << 30;

pub(super) fn embedded(bytes: &[u8], found: &mut Found<'_, '_>) -> Result<(), ExtractError> {
    let start = find(&bytes[..bytes.len().min(1024)], b"%PDF-")
        .ok_or_else(|| ExtractError::Document("PDF: no %PDF- header".into()))?;
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_DECODED),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(&bytes[start..], options)
        .map_err(|e| ExtractError::Document(format!("PDF: {e}")))?;
    if doc.is_encrypted() {
        return Err(ExtractError::Document(
            "PDF: encrypted; its embedded files cannot be read without the password".into(),
        ));
    }
    let names = file_names(&doc);
    // Streams a file specification points at (their /Type is optional), and streams that
    // say they are embedded files whether or not anything points at them.
    let mut ids: Vec<ObjectId> = doc
        .objects
        .iter()
        .filter(|(id, object)| {
            object.as_stream().is_ok_and(|stream| {
                names.contains_key(*id)
                    || stream
                        .dict
                        .get(b"Type")
                        .and_then(Object::as_name)
                        .is_ok_and(|name| name == b"EmbeddedFile")
            })
        })
        .map(|(id, _)| *id)
        .collect();
    ids.sort_unstable();
    for (count, id) in ids.iter().enumerate() {
        let stream = doc.objects[id].as_stream().expect("filtered");
        let data = stream
            .decompressed_content_with_limit(MAX_DECODED)
            .map_err(|e| ExtractError::Document(format!("PDF embedded file {}: {e}", id.0)))?;
        let fallback = format!("embedded-{}", count + 1);
        let name = names
            .get(id)
            .map(String::as_str)
            .filter(|name| !name.trim().is_empty())
            .unwrap_or(&fallback);
        if !found.add(name, &data)? {
            break;
        }
    }
    Ok(())
}

/// The names file specifications give the embedded-file streams they point at (an empty name
/// when they give none).
fn file_names(doc: &Document) -> HashMap<ObjectId, String> {
    let mut names = HashMap::new();
    for object in doc.objects.values() {
        let Ok(dict) = object.as_dict() else { continue };
        let Ok(ef) = dict.get(b"EF").and_then(|ef| doc.dereference(ef)) else {
            continue;
        };
        let Ok(ef) = ef.1.as_dict() else { continue };
        let Some(target) = ef
            .get(b"UF")
            .or_else(|_| ef.get(b"F"))
            .ok()
            .and_then(|r| r.as_reference().ok())
        else {
            continue;
        };
        let name = [b"UF".as_slice(), b"F"].iter().find_map(|key| {
            let value = doc.dereference(dict.get(key).ok()?).ok()?.1;
            let bytes = value.as_str().ok()?;
            Some(text(bytes))
        });
        names.insert(target, name.unwrap_or_default());
    }
    names
}

/// A PDF text string: UTF-16 with its byte-order mark, else bytes as Latin-1.
fn text(bytes: &[u8]) -> String {
    match bytes.strip_prefix(&[0xfe, 0xff]) {
        Some(utf16) => {
            let units: Vec<u16> = utf16
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        None => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}
