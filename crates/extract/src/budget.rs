//! The limits one submission's extraction runs under, and the running account against them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

/// A limit an archive went over. Each maps to one of the document's result codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The parts of the budget that need no shared account: its deadline and ratio.
    fn terms(&self) -> Terms;
    fn check_time(&self) -> Result<(), Limit> {
        self.terms().check_time()
    }
    /// Checks one member's or stream's output (`out`) against its compressed size.
    fn check_ratio(&self, out: u64, packed: Option<u64>) -> Result<(), Limit> {
        self.terms().check_ratio(out, packed)
    }
}

/// The deadline and the ratio limit of an extraction: checked wherever it runs, without asking
/// the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// When extraction must have finished.
    pub deadline: SystemTime,
    /// Largest output/input ratio of one compressed member or stream past `ratio_floor` bytes.
    pub max_ratio: u64,
    pub ratio_floor: u64,
}

impl Terms {
    pub fn check_time(&self) -> Result<(), Limit> {
        if SystemTime::now() > self.deadline {
            return Err(Limit::Timeout);
        }
        Ok(())
    }

    pub fn check_ratio(&self, out: u64, packed: Option<u64>) -> Result<(), Limit> {
        ratio_within(out, packed, self.max_ratio, self.ratio_floor)
    }

    /// Time left before the deadline (zero once past it).
    pub fn time_left(&self) -> Duration {
        self.deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }
}

/// Whether `out` bytes from `packed` compressed ones stay within `max_ratio` (always, below
/// `floor` bytes: small, highly compressible files are normal).
fn ratio_within(out: u64, packed: Option<u64>, max_ratio: u64, floor: u64) -> Result<(), Limit> {
    match packed {
        Some(packed) if out > floor && out / packed.max(1) > max_ratio => Err(Limit::Size),
        _ => Ok(()),
    }
}

/// Bytes charged to a shared account ahead of writing them, `chunk` at a time, so that not
/// every write is a round trip to the account.
#[derive(Debug)]
pub struct Allowance {
    chunk: u64,
    left: Mutex<u64>,
}

impl Allowance {
    pub fn new(chunk: u64) -> Self {
        Self {
            chunk,
            left: Mutex::new(0),
        }
    }

    /// Takes `bytes` from what was charged ahead, charging more through `charge` when it runs
    /// out: a whole chunk if the account has it, else only what is needed. `false` when the
    /// account refuses.
    pub fn take(&self, bytes: u64, mut charge: impl FnMut(u64) -> bool) -> bool {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        if *left < bytes {
            let needed = bytes - *left;
            let ahead = needed.max(self.chunk);
            if charge(ahead) {
                *left += ahead;
            } else if ahead > needed && charge(needed) {
                *left += needed;
            } else {
                return false;
            }
        }
        *left -= bytes;
        true
    }

    /// What was charged ahead and not taken, now given up (to refund to the account).
    pub fn unused(&self) -> u64 {
        std::mem::take(&mut *self.left.lock().unwrap_or_else(|e| e.into_inner()))
    }
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

    fn terms(&self) -> Terms {
        let left = self.limits.max_time.saturating_sub(self.started.elapsed());
        Terms {
            deadline: SystemTime::now() + left,
            max_ratio: self.limits.max_ratio,
            ratio_floor: self.limits.ratio_floor,
        }
    }

    fn check_time(&self) -> Result<(), Limit> {
        if self.started.elapsed() > self.limits.max_time {
            return Err(Limit::Timeout);
        }
        Ok(())
    }

    fn check_ratio(&self, out: u64, packed: Option<u64>) -> Result<(), Limit> {
        ratio_within(out, packed, self.limits.max_ratio, self.limits.ratio_floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowance_charges_a_chunk_ahead_and_then_only_what_is_left() {
        let account = Mutex::new(10u64);
        let charges = Mutex::new(Vec::new());
        let charge = |bytes: u64| {
            charges.lock().unwrap().push(bytes);
            let mut left = account.lock().unwrap();
            if *left >= bytes {
                *left -= bytes;
                true
            } else {
                false
            }
        };
        let allowance = Allowance::new(4);
        assert!(allowance.take(1, charge), "first chunk of 4 charged");
        assert!(allowance.take(3, charge), "from the chunk");
        assert!(
            allowance.take(5, charge),
            "a chunk of 5 (more than the chunk size)"
        );
        assert!(
            allowance.take(1, charge),
            "only 1 left in the account: 4 refused, 1 taken"
        );
        assert!(!allowance.take(1, charge), "the account is empty");
        assert_eq!(*charges.lock().unwrap(), [4, 5, 4, 1, 4, 1]);
    }

    #[test]
    fn what_an_allowance_did_not_use_is_given_up_once() {
        let allowance = Allowance::new(4);
        assert!(allowance.take(1, |_| true));
        assert_eq!(allowance.unused(), 3);
        assert_eq!(allowance.unused(), 0);
        // Taking again charges a new chunk.
        let mut charged = 0;
        assert!(allowance.take(1, |bytes| {
            charged = bytes;
            true
        }));
        assert_eq!(charged, 4);
    }

    #[test]
    fn terms_stop_past_the_deadline_and_past_the_ratio() {
        let terms = Terms {
            deadline: SystemTime::now() + Duration::from_secs(60),
            max_ratio: 100,
            ratio_floor: 1000,
        };
        assert_eq!(terms.check_time(), Ok(()));
        assert_eq!(terms.check_ratio(900, Some(1)), Ok(()), "below the floor");
        assert_eq!(terms.check_ratio(100_000, Some(1000)), Ok(()));
        assert_eq!(terms.check_ratio(101_000, Some(1000)), Err(Limit::Size));
        let late = Terms {
            deadline: SystemTime::now() - Duration::from_secs(1),
            ..terms
        };
        assert_eq!(late.check_time(), Err(Limit::Timeout));
        assert_eq!(late.time_left(), Duration::ZERO);
    }
}
