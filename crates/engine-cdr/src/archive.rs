//! Zip archives: every member is sanitized on its own, as the file it is (a PDF member as a
//! PDF, a zip member as an archive, up to three levels deep), and the archive is written anew
//! from the sanitized members (`ooxml::package::write_zip`: same order, one fixed timestamp).
//!
//! A member that cannot be sanitized (a type Deep CDR does not rebuild, a format the rule
//! leaves out, a broken or encrypted file, one the rule blocks) is left out and replaced by a
//! short text file naming it and why (Embedded file; the archive is `Sanitized Partially`,
//! with the member named in the description), or fails the whole archive when the rule says
//! `failed_members = "fail"`. A signed document the rule skips is kept as it is (also
//! `Sanitized Partially`).

use std::time::Instant;

use palisade_model::{ActiveObject, CdrPolicy, FailedMembers, FailureCategory, SignedDocuments};

use crate::ooxml::package::{self, Package};
use crate::{Failure, Format, Rebuilt, Removals};

/// Archives inside archives, rebuilt at most this deep.
const MAX_NESTING: usize = 3;

/// What became of one member.
enum Member {
    Rebuilt {
        bytes: Vec<u8>,
        removals: Removals,
        extension: String,
        /// What inside it was not sanitized (a member of a member).
        partial: Vec<String>,
    },
    /// Kept as it is: `why` it was not sanitized.
    Kept(String),
    /// Could not be sanitized: why.
    Failed(String),
}

pub(crate) fn rebuild(
    input: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
) -> Result<Rebuilt, Failure> {
    rebuild_at(input, policy, deadline, 0)
}

fn rebuild_at(
    input: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
    depth: usize,
) -> Result<Rebuilt, Failure> {
    let archive = Package::read(input, deadline)?;
    let mut removals = Removals::default();
    let mut members = Vec::new();
    let mut partial = Vec::new();
    for part in &archive.parts {
        if Instant::now() > deadline {
            return Err(Failure::timed_out());
        }
        match member(&part.name, &part.data, policy, deadline, depth)? {
            Member::Rebuilt {
                bytes,
                removals: found,
                extension,
                partial: inside,
            } => {
                removals.nested(&part.name, found);
                partial.extend(
                    inside
                        .into_iter()
                        .map(|note| format!("{}/{note}", part.name)),
                );
                members.push((renamed(&part.name, &extension), bytes));
            }
            Member::Kept(why) => {
                partial.push(format!("{} kept as it is ({why})", part.name));
                members.push((part.name.clone(), part.data.clone()));
            }
            Member::Failed(why) if policy.failed_members == FailedMembers::Fail => {
                return Err(Failure::failed(format!(
                    "the member {} could not be sanitized: {why}",
                    part.name
                )));
            }
            Member::Failed(why) => {
                removals.record(
                    ActiveObject::EmbeddedFile,
                    true,
                    &format!("{}, which could not be sanitized: {why}", part.name),
                );
                partial.push(format!("{} replaced by a note ({why})", part.name));
                let note = format!(
                    "Palisade Deep CDR removed {} from this archive: it could not be sanitized ({why}).\n",
                    part.name
                );
                members.push((format!("{}.removed.txt", part.name), note.into_bytes()));
            }
        }
    }
    Ok(Rebuilt {
        bytes: package::write_zip(&members)?,
        removals,
        partial,
        ..Rebuilt::default()
    })
}

/// Sanitizes one member as the file it is.
fn member(
    name: &str,
    data: &[u8],
    policy: &CdrPolicy,
    deadline: Instant,
    depth: usize,
) -> Result<Member, Failure> {
    let Some(format) = Format::detect(data) else {
        return Ok(Member::Failed(
            "a file type Deep CDR does not rebuild".into(),
        ));
    };
    if !policy.sanitizes(format.name()) {
        return Ok(Member::Failed(format!(
            "the rule does not sanitize {} files",
            format.label()
        )));
    }
    let rebuilt = match format {
        Format::Zip if depth + 1 >= MAX_NESTING => {
            return Ok(Member::Failed(format!(
                "archives nested more than {MAX_NESTING} deep"
            )));
        }
        Format::Zip => rebuild_at(data, policy, deadline, depth + 1),
        other => other.rebuild(data, policy, deadline),
    };
    let rebuilt = match rebuilt {
        Ok(rebuilt) => rebuilt,
        Err(failure) if failure.category == FailureCategory::TimedOut => return Err(failure),
        Err(failure) => return Ok(Member::Failed(failure.reason)),
    };
    if !rebuilt.blocked.is_empty() {
        return Ok(Member::Failed(rebuilt.blocked.join("; ")));
    }
    if rebuilt.signed {
        match policy.signed {
            SignedDocuments::Sanitize => {}
            SignedDocuments::Skip => {
                return Ok(Member::Kept("digitally signed".into()));
            }
            SignedDocuments::Block => {
                return Ok(Member::Failed("digitally signed".into()));
            }
        }
    }
    Ok(Member::Rebuilt {
        bytes: rebuilt.bytes,
        removals: rebuilt.removals,
        extension: format.extension(name, policy),
        partial: rebuilt.partial,
    })
}

/// The member's name with the extension of the type it was rebuilt as (a `.docm` that lost
/// its macros is a `.docx`).
fn renamed(name: &str, extension: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, old)) if !old.contains('/') => {
            if old.eq_ignore_ascii_case(extension) {
                name.to_string()
            } else {
                format!("{stem}.{extension}")
            }
        }
        _ => name.to_string(),
    }
}
