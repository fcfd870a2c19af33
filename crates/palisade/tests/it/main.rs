//! End-to-end tests: the real `palisade` binary on port 0, driven over HTTP like a client.

mod antivirus;
mod archives;
mod auth;
mod batches;
mod cdr;
mod cli;
mod clients;
mod cluster;
mod console;
mod containers;
mod datadir;
mod dlp;
mod durability;
mod files;
mod hostile;
#[cfg(feature = "fault-engines")]
mod isolation;
mod metrics;
mod openapi;
mod outputs;
mod reputation;
mod schema;
mod snapshots;
mod support;
mod tls;
