//! Proactive DLP (data-loss prevention): finds card numbers, social security numbers, IBANs,
//! IPv4 addresses and a rule's own patterns in a document's text, each hit with a certainty
//! score from 0 to 100 (`recognize.rs`), masked for stored reports (`mask.rs`), in text decoded and located
//! piece by piece (`text.rs`); `report.rs` turns the hits into the report's `dlp_info`.

pub mod mask;
mod recognize;
pub mod report;
pub mod text;

pub use recognize::{Kind, Match, Recognizers};
