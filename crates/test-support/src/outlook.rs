//! Outlook messages (`.msg`) written at runtime with the cfb crate, laid out as MS-OXMSG says:
//! the property stream with its header, string properties as UTF-16 `__substg1.0_` streams, a
//! recipient, and attachments by value (data, long and short file names, method 1). Tests
//! check them with Debian's `msgconvert` (libemail-outlook-message-perl), an independent
//! reader, before using them.

use std::io::{Cursor, Write};

/// A fixed-size property entry of a property stream: tag, flags (readable, writable), value.
fn fixed(tag: u32, value: u32) -> Vec<u8> {
    let mut entry = tag.to_le_bytes().to_vec();
    entry.extend_from_slice(&6u32.to_le_bytes());
    entry.extend_from_slice(&value.to_le_bytes());
    entry.extend_from_slice(&0u32.to_le_bytes());
    entry
}

/// The entry of a variable-size property: its size in the value.
fn variable(tag: u32, size: usize) -> Vec<u8> {
    fixed(tag, size as u32)
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

struct Writer {
    file: cfb::CompoundFile<Cursor<Vec<u8>>>,
}

impl Writer {
    fn stream(&mut self, path: &str, bytes: &[u8]) {
        self.file
            .create_stream(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    /// Writes string properties as `001F` streams of `storage`, returning their entries.
    fn strings(&mut self, storage: &str, properties: &[(u16, &str)]) -> Vec<u8> {
        let mut entries = Vec::new();
        for (id, value) in properties {
            let bytes = utf16(value);
            self.stream(&format!("{storage}/__substg1.0_{id:04X}001F"), &bytes);
            entries.extend(variable(u32::from(*id) << 16 | 0x001F, bytes.len()));
        }
        entries
    }
}

/// A message with `subject`, a plain `body`, a sender, one recipient and `attachments`
/// (name and bytes), as Outlook saves it.
pub fn message(subject: &str, body: &str, attachments: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = Writer {
        file: cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap(),
    };
    // The class of an Outlook message, as Outlook sets it on the root.
    let class = uuid::Uuid::parse_str("00020d0b-0000-0000-c000-000000000046").unwrap();
    writer.file.set_storage_clsid("/", class).unwrap();
    // Named properties: the three streams of an empty mapping.
    writer.file.create_storage("/__nameid_version1.0").unwrap();
    for id in ["00020102", "00030102", "00040102"] {
        writer.stream(&format!("/__nameid_version1.0/__substg1.0_{id}"), &[]);
    }
    let mut root = writer.strings(
        "",
        &[
            (0x001A, "IPM.Note"),
            (0x0037, subject),
            (0x1000, body),
            (0x0C1A, "Ada Example"),
            (0x0C1F, "ada@example.com"),
            (0x0E04, "bob@example.com"),
        ],
    );
    root.extend(fixed(0x0E07_0003, 0x11)); // PR_MESSAGE_FLAGS: read, has attachments
    // One recipient.
    writer
        .file
        .create_storage("/__recip_version1.0_#00000000")
        .unwrap();
    let mut recipient = writer.strings(
        "/__recip_version1.0_#00000000",
        &[(0x3001, "Bob Example"), (0x39FE, "bob@example.com")],
    );
    recipient.extend(fixed(0x0C15_0003, 1)); // PR_RECIPIENT_TYPE: to
    recipient.extend(fixed(0x3000_0003, 0)); // PR_ROWID
    let mut header = vec![0u8; 8];
    header.extend_from_slice(&recipient);
    writer.stream(
        "/__recip_version1.0_#00000000/__properties_version1.0",
        &header,
    );
    for (index, (name, data)) in attachments.iter().enumerate() {
        let storage = format!("/__attach_version1.0_#{index:08X}");
        writer.file.create_storage(&storage).unwrap();
        writer.stream(&format!("{storage}/__substg1.0_37010102"), data);
        let short: String = name.chars().take(8).collect();
        let mut entries = writer.strings(
            &storage,
            &[(0x3707, name), (0x3704, &short), (0x3001, name)],
        );
        entries.extend(variable(0x3701_0102, data.len()));
        entries.extend(fixed(0x3705_0003, 1)); // PR_ATTACH_METHOD: by value
        entries.extend(fixed(0x0E21_0003, index as u32)); // PR_ATTACH_NUM
        let mut header = vec![0u8; 8];
        header.extend_from_slice(&entries);
        writer.stream(&format!("{storage}/__properties_version1.0"), &header);
    }
    // The top-level property stream: reserved, next ids and counts, reserved, then entries.
    let mut header = vec![0u8; 8];
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&(attachments.len() as u32).to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&(attachments.len() as u32).to_le_bytes());
    header.extend_from_slice(&[0u8; 8]);
    header.extend_from_slice(&root);
    writer.stream("/__properties_version1.0", &header);
    writer.file.flush().unwrap();
    writer.file.into_inner().into_inner()
}
