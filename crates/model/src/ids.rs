//! Identifiers (data ids, batch ids) and file hashes.

use std::fmt;

/// An identifier that is not 32 lowercase hexadecimal characters.
#[derive(Debug, thiserror::Error)]
#[error("invalid identifier")]
pub struct InvalidId;

/// Returns `bytes` random bytes from the operating system, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom_fill(&mut buf);
    hex::encode(buf)
}

fn getrandom_fill(buf: &mut [u8]) {
    // The OS random source failing is not recoverable for an id generator.
    getrandom::fill(buf).expect("operating system random source failed");
}

macro_rules! hex_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random identifier: 128 bits as 32 lowercase hex characters.
            pub fn generate() -> Self {
                Self(random_hex(16))
            }

            /// Parses an identifier as sent by a client: 32 hex characters, any case.
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Self(text.to_ascii_lowercase()))
                } else {
                    Err(InvalidId)
                }
            }

            /// The identifier as stored and sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

hex_id!(
    DataId,
    "The identifier of one submitted (or extracted) file."
);
hex_id!(BatchId, "The identifier of a batch of submissions.");

/// The four digests of a file, lowercase hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileHashes {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// Which digest a hash string is, judged by its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl HashKind {
    /// Recognises a hex digest of any letter case; `None` when it is not one.
    pub fn parse(text: &str) -> Option<(HashKind, String)> {
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let kind = match text.len() {
            32 => HashKind::Md5,
            40 => HashKind::Sha1,
            64 => HashKind::Sha256,
            128 => HashKind::Sha512,
            _ => return None,
        };
        Some((kind, text.to_ascii_lowercase()))
    }

    /// The column name used for this digest in stores.
    pub fn column(self) -> &'static str {
        match self {
            HashKind::Md5 => "md5",
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
            HashKind::Sha512 => "sha512",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_ids_are_32_lowercase_hex_and_parse_back() {
        let id = DataId::generate();
        assert_eq!(id.as_str().len(), 32);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(DataId::parse(&id.as_str().to_uppercase()).unwrap(), id);
        assert!(DataId::parse("xyz").is_err());
        assert_ne!(DataId::generate(), id);
    }

    #[test]
    fn hash_kinds_follow_length_and_ignore_case() {
        let (kind, text) = HashKind::parse("44D88612FEA8A8F36DE82E1278ABB02F").unwrap();
        assert_eq!(kind, HashKind::Md5);
        assert_eq!(text, "44d88612fea8a8f36de82e1278abb02f");
        assert_eq!(HashKind::parse(&"a".repeat(40)).unwrap().0, HashKind::Sha1);
        assert_eq!(
            HashKind::parse(&"a".repeat(64)).unwrap().0,
            HashKind::Sha256
        );
        assert_eq!(
            HashKind::parse(&"a".repeat(128)).unwrap().0,
            HashKind::Sha512
        );
        assert!(HashKind::parse(&"a".repeat(33)).is_none());
        assert!(HashKind::parse(&"g".repeat(32)).is_none());
    }
}
