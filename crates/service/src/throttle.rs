//! Failed-login throttling, per client address and per account, decided before any password is
//! verified so that guessing costs the server nothing once a client is throttled.
//!
//! - A client address that keeps failing is locked out for exponentially longer each time
//!   (after `free_failures`, 1 s, 2 s, 4 s, ... up to `max_lockout`), and refused outright once
//!   it has failed `address_limit` times within `window`. Locked-out attempts get 429 at once.
//! - An account that keeps failing (from any address) has its failed answers delayed
//!   exponentially (up to 2 s), which slows a spread-out guesser; it is never locked, so the
//!   owner with the right password, from an address that has not failed, logs in at once.
//!
//! Known and unknown user names are counted alike. The state is per process (each gateway
//! counts its own clients) and bounded in size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most addresses and accounts remembered at once; beyond it, the stale ones are forgotten.
const MAX_ENTRIES: usize = 100_000;
/// Account failures answered without delay, within one window.
const ACCOUNT_FREE_FAILURES: u32 = 10;
/// Longest delay of a failed answer for an account under attack.
const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(2);

/// The throttle's settings.
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Failures an address may have within `window` before it is refused until the window ends.
    pub address_limit: u32,
    /// Failures of an address answered without a lockout.
    pub free_failures: u32,
    pub max_lockout: Duration,
    pub window: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            address_limit: 20,
            free_failures: 5,
            max_lockout: Duration::from_secs(300),
            window: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Account(String),
}

/// What to do with a login attempt before its password is looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Verify,
    /// Refused without verifying: retry after this long.
    Refused(Duration),
}

#[derive(Default)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    entries: Mutex<HashMap<Key, Failures>>,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an attempt from `address` may have its password verified now.
    pub fn admit(&self, address: Option<IpAddr>, now: Instant) -> Admission {
        let Some(address) = address else {
            return Admission::Verify;
        };
        let entries = self.entries();
        let Some(failures) = entries.get(&Key::Address(address)) else {
            return Admission::Verify;
        };
        let window_end = failures.window_start + self.settings.window;
        if now < window_end && failures.count >= self.settings.address_limit {
            return Admission::Refused(window_end - now);
        }
        match failures.locked_until {
            Some(until) if until > now => Admission::Refused(until - now),
            _ => Admission::Verify,
        }
    }

    /// Records a failed attempt; returns how long to hold the failed answer (the account's delay).
    pub fn failed(&self, address: Option<IpAddr>, account: &str, now: Instant) -> Duration {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            let window = self.settings.window.max(self.settings.max_lockout);
            entries.retain(|_, f| now.duration_since(f.window_start) < window);
        }
        if let Some(address) = address {
            let failures = self.bump(&mut entries, Key::Address(address), now);
            let over = failures.count.saturating_sub(self.settings.free_failures);
            if over > 0 {
                let lockout = Duration::from_secs(1u64 << (over - 1).min(20));
                failures.locked_until = Some(now + lockout.min(self.settings.max_lockout));
            }
        }
        let account = self.bump(&mut entries, Key::Account(account.to_string()), now);
        let over = account.count.saturating_sub(ACCOUNT_FREE_FAILURES);
        if over == 0 {
            return Duration::ZERO;
        }
        let delay = Duration::from_millis(50u64 << (over - 1).min(10));
        delay.min(MAX_ACCOUNT_DELAY)
    }

    /// A successful login clears its address's failures (the account's stay: an attacker who
    /// guessed elsewhere must not reset them).
    pub fn succeeded(&self, address: Option<IpAddr>) {
        if let Some(address) = address {
            self.entries().remove(&Key::Address(address));
        }
    }

    fn bump<'a>(
        &self,
        entries: &'a mut HashMap<Key, Failures>,
        key: Key,
        now: Instant,
    ) -> &'a mut Failures {
        let failures = entries.entry(key).or_insert(Failures {
            count: 0,
            window_start: now,
            locked_until: None,
        });
        if now.duration_since(failures.window_start) >= self.settings.window {
            failures.count = 0;
            failures.window_start = now;
        }
        failures.count += 1;
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_longer_each_time_and_then_refused_for_the_window() {
        let throttle = LoginThrottle::default();
        let attacker: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let owner: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        let start = Instant::now();
        for n in 0..5 {
            assert_eq!(throttle.admit(attacker, start), Admission::Verify, "{n}");
            throttle.failed(attacker, "admin", start);
        }
        assert_eq!(throttle.admit(attacker, start), Admission::Verify);
        throttle.failed(attacker, "admin", start);
        assert_eq!(
            throttle.admit(attacker, start),
            Admission::Refused(Duration::from_secs(1))
        );
        let later = start + Duration::from_secs(1);
        assert_eq!(throttle.admit(attacker, later), Admission::Verify);
        throttle.failed(attacker, "admin", later);
        assert_eq!(
            throttle.admit(attacker, later),
            Admission::Refused(Duration::from_secs(2))
        );
        // The owner, from elsewhere, is never refused.
        assert_eq!(throttle.admit(owner, later), Admission::Verify);

        // Twenty failures in the window: refused until it ends, whatever the lockout says.
        let fresh = LoginThrottle::new(ThrottleSettings {
            max_lockout: Duration::ZERO,
            ..ThrottleSettings::default()
        });
        for _ in 0..20 {
            fresh.failed(attacker, "someone", start);
        }
        assert_eq!(
            fresh.admit(attacker, start + Duration::from_secs(10)),
            Admission::Refused(Duration::from_secs(50))
        );
        assert_eq!(
            fresh.admit(attacker, start + Duration::from_secs(60)),
            Admission::Verify
        );
    }

    #[test]
    fn an_account_under_attack_answers_failures_slowly_but_success_never_waits() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let mut delays = Vec::new();
        for n in 0..14u8 {
            let address = Some(IpAddr::from([10, 0, 1, n]));
            delays.push(throttle.failed(address, "nobody-by-that-name", now));
        }
        assert!(delays[..10].iter().all(|d| d.is_zero()), "{delays:?}");
        assert_eq!(delays[10], Duration::from_millis(50));
        assert_eq!(delays[13], Duration::from_millis(400));
        throttle.succeeded(Some(IpAddr::from([10, 0, 1, 0])));
        assert_eq!(
            throttle.admit(Some(IpAddr::from([10, 0, 1, 0])), now),
            Admission::Verify
        );
    }
}
