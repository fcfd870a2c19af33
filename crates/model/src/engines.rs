//! `GET /stat/engines`: what each engine is and how it is doing, in the incumbent's published shape.
//!
//! Generated SDKs parse `engine_type` and `state` as enums and raise on any other value, so both
//! are closed enums here; Palisade's own finer kind of engine goes in `eng_type`, a free string.

use serde::{Deserialize, Serialize};

/// What kind of engine this is, as Palisade tells them apart (`eng_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    FileType,
    Archive,
    Yara,
    ClamAv,
    Icap,
    Command,
    Lists,
    Reputation,
    /// Deep CDR, the built-in sanitization engine.
    Cdr,
    /// Proactive DLP, the built-in data-loss prevention engine.
    Dlp,
}

impl EngineKind {
    /// The `eng_type` text.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::FileType => "filetype",
            EngineKind::Archive => "archive",
            EngineKind::Yara => "yara",
            EngineKind::ClamAv => "clamav",
            EngineKind::Icap => "icap",
            EngineKind::Command => "command",
            EngineKind::Lists => "lists",
            EngineKind::Reputation => "reputation",
            EngineKind::Cdr => "cdr",
            EngineKind::Dlp => "dlp",
        }
    }

    /// The nearest value of the incumbent's `engine_type` enum: everything that looks for
    /// threats (antivirus, YARA, hash lists and reputation) is `av`, and so are Deep CDR and
    /// Proactive DLP (the published enum has no closer value).
    pub fn engine_type(self) -> EngineType {
        match self {
            EngineKind::FileType => EngineType::FileType,
            EngineKind::Archive => EngineType::Archive,
            EngineKind::Yara
            | EngineKind::ClamAv
            | EngineKind::Icap
            | EngineKind::Command
            | EngineKind::Lists
            | EngineKind::Reputation
            | EngineKind::Cdr
            | EngineKind::Dlp => EngineType::Av,
        }
    }
}

/// `engine_type`: the incumbent's published enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineType {
    Av,
    Archive,
    FileType,
}

impl EngineType {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineType::Av => "av",
            EngineType::Archive => "archive",
            EngineType::FileType => "filetype",
        }
    }

    /// Reads a stored value; what older Palisade nodes wrote (`yara`, `lists`, ...) is `av`.
    pub fn parse(text: &str) -> Self {
        match text {
            "archive" => EngineType::Archive,
            "filetype" => EngineType::FileType,
            _ => EngineType::Av,
        }
    }
}

/// `state`: the values of the incumbent's published enum that Palisade uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineState {
    /// Working.
    Production,
    /// Configured but down (its service unreachable, its files unreadable); recovers by itself.
    TemporaryFailed,
    /// Cannot work here (its program is not installed).
    PermanentlyFailed,
}

impl EngineState {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::Production => "production",
            EngineState::TemporaryFailed => "temporary failed",
            EngineState::PermanentlyFailed => "permanently failed",
        }
    }

    /// Reads a stored value. Older Palisade nodes wrote `failed` and `not available`; anything
    /// unknown is taken as down, never as working.
    pub fn parse(text: &str) -> Self {
        match text {
            "production" => EngineState::Production,
            "permanently failed" | "not available" => EngineState::PermanentlyFailed,
            _ => EngineState::TemporaryFailed,
        }
    }

    pub fn is_production(self) -> bool {
        self == EngineState::Production
    }
}

impl std::fmt::Display for EngineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! text_enum_serde {
    ($name:ident, [$($variant:ident),*]) => {
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::schema::string_enum([$($name::$variant.as_str()),*])
            }
        }

        impl utoipa::ToSchema for $name {}

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    };
}

text_enum_serde!(EngineType, [Av, Archive, FileType]);
text_enum_serde!(
    EngineState,
    [Production, TemporaryFailed, PermanentlyFailed]
);

/// One entry of `/stat/engines`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EngineStat {
    /// In production (on at least one node, on a gateway).
    pub active: bool,
    pub def_time: String,
    pub download_progress: u32,
    pub download_time: String,
    pub eng_id: String,
    pub eng_name: String,
    /// Palisade's own kind of engine ([`EngineKind::as_str`]).
    pub eng_type: String,
    pub eng_ver: String,
    pub engine_type: EngineType,
    pub state: EngineState,
    /// Always `engine`.
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Problems worth showing (an unreachable service, rule files that failed to compile).
    pub problems: Vec<String>,
    /// On a gateway: each online scanning node's state of this engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<EngineOnNode>>,
}

impl Default for EngineStat {
    fn default() -> Self {
        Self {
            active: false,
            def_time: String::new(),
            download_progress: 100,
            download_time: String::new(),
            eng_id: String::new(),
            eng_name: String::new(),
            eng_type: String::new(),
            eng_ver: String::new(),
            engine_type: EngineType::Av,
            state: EngineState::TemporaryFailed,
            entry_type: "engine".into(),
            problems: Vec::new(),
            nodes: None,
        }
    }
}

/// One node's state of an engine, in a gateway's `/stat/engines`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EngineOnNode {
    pub node_id: String,
    pub state: EngineState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_types_use_the_published_enums_and_read_older_entries() {
        let stat = EngineStat {
            state: EngineState::PermanentlyFailed,
            ..EngineStat::default()
        };
        let text = serde_json::to_string(&stat).unwrap();
        assert!(text.contains("\"state\":\"permanently failed\""), "{text}");
        assert!(text.contains("\"type\":\"engine\""), "{text}");
        assert!(text.contains("\"engine_type\":\"av\""), "{text}");
        assert!(!text.contains("nodes"), "{text}");

        let old: EngineStat = serde_json::from_str(
            r#"{"eng_id":"yara","engine_type":"yara","state":"failed","active":false}"#,
        )
        .unwrap();
        assert_eq!(old.engine_type, EngineType::Av);
        assert_eq!(old.state, EngineState::TemporaryFailed);
        assert_eq!(old.entry_type, "engine");
        let missing: EngineStat =
            serde_json::from_str(r#"{"state":"not available","engine_type":"filetype"}"#).unwrap();
        assert_eq!(missing.state, EngineState::PermanentlyFailed);
        assert_eq!(missing.engine_type, EngineType::FileType);
    }
}

/// One entry of `/stat/nodes`: a gateway or scanning node of the cluster (fields in the order
/// they have always been served).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeStat {
    /// Its engines and their states, as `/stat/engines` shows them (empty for a gateway).
    pub engines: Vec<EngineStat>,
    pub hostname: String,
    /// Its last heartbeat.
    pub last_seen: String,
    pub node_id: String,
    /// Heartbeating within `cluster.heartbeat_seconds` times three.
    pub online: bool,
    /// `serve`, `gateway` or `node`.
    pub role: String,
    /// Jobs it holds leases on.
    pub running: u64,
    pub started: String,
    pub version: String,
    /// Worker loops (0 for a gateway).
    pub workers: u32,
}
