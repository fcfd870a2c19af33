//! The limits one submission's extraction runs under, and the running account against them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A limit an archive went over. Each maps to one of the document's result codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Nested deeper than allowed: 9 Exceeded Archive Depth.
    Depth,
    /// More bytes than allowed, in total or by compression ratio: 13 Exceeded Archive Size.
    Size,
    /// More members than allowed: 14 Exceeded Archive File Number.
    FileNumber,
    /// Extraction took longer than allowed: 16 Exceeded Archive Timeout.
    Timeout,
}

const IO_TAG: &str = "palisade archive limit: ";

impl Limit {
    /// Carries a limit through an `io::Read` implementation.
    pub(crate) fn into_io(self) -> std::io::Error {
        std::io::Error::other(format!("{IO_TAG}{self:?}"))
    }

    pub(crate) fn from_io(error: &std::io::Error) -> Option<Limit> {
        let text = error.to_string();
        let name = text.strip_prefix(IO_TAG)?;
        [Limit::Depth, Limit::Size, Limit::FileNumber, Limit::Timeout]
            .into_iter()
            .find(|limit| format!("{limit:?}") == name)
    }
}

/// The limits of one submission (a rule setting).
#[derive(Clone, Copy, Debug)]
pub struct BudgetLimits {
    pub max_depth: u32,
    pub max_total_bytes: u64,
    pub max_members: u64,
    pub max_time: Duration,
    /// Largest output/input ratio of one compressed member or stream, once it is past
    /// `ratio_floor` bytes (small, highly compressible files are normal).
    pub max_ratio: u64,
    pub ratio_floor: u64,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        Self {
            max_depth: 10,
            max_total_bytes: 4 << 30,
            max_members: 10_000,
            max_time: Duration::from_secs(300),
            max_ratio: 1000,
            ratio_floor: 1 << 20,
        }
    }
}

/// The account extraction charges as it writes. Shared by every archive of one submission.
pub trait Budget: Sync {
    fn take_member(&self) -> Result<(), Limit>;
    fn take_bytes(&self, bytes: u64) -> Result<(), Limit>;
    fn check_time(&self) -> Result<(), Limit>;
    /// Checks one member's or stream's output (`out`) against its compressed size.
    fn check_ratio(&self, out: u64, packed: Option<u64>) -> Result<(), Limit>;
}

/// A budget kept in memory (one process extracting one submission).
#[derive(Debug)]
pub struct LocalBudget {
    limits: BudgetLimits,
    started: Instant,
    bytes: AtomicU64,
    members: AtomicU64,
}

impl LocalBudget {
    pub fn new(limits: BudgetLimits) -> Self {
        Self {
            limits,
            started: Instant::now(),
            bytes: AtomicU64::new(0),
            members: AtomicU64::new(0),
        }
    }

    /// (bytes, members) charged so far.
    pub fn used(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.members.load(Ordering::Relaxed),
        )
    }
}

impl Budget for LocalBudget {
    fn take_member(&self) -> Result<(), Limit> {
        let before = self.members.fetch_add(1, Ordering::Relaxed);
        if before >= self.limits.max_members {
            return Err(Limit::FileNumber);
        }
        Ok(())
    }

    fn take_bytes(&self, bytes: u64) -> Result<(), Limit> {
        let after = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if after > self.limits.max_total_bytes {
            return Err(Limit::Size);
        }
        Ok(())
    }

    fn check_time(&self) -> Result<(), Limit> {
        if self.started.elapsed() > self.limits.max_time {
            return Err(Limit::Timeout);
        }
        Ok(())
    }

    fn check_ratio(&self, out: u64, packed: Option<u64>) -> Result<(), Limit> {
        match packed {
            Some(packed)
                if out > self.limits.ratio_floor && out / packed.max(1) > self.limits.max_ratio =>
            {
                Err(Limit::Size)
            }
            _ => Ok(()),
        }
    }
}
