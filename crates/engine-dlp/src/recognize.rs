//! The recognizers: a pattern finds candidates, a validation (checksum, structure) keeps the
//! real ones, and the score comes from how specific the match is, what format it is written
//! in, and the words near it (keywords raise it, exclusion words lower it).
//!
//! Scores, before keywords (+20 to +40) and exclusions (-30):
//! - card number: Luhn, issuer prefix and length valid 60, grouped as the issuer prints it 70;
//!   a known test number 10;
//! - social security number: area, group and serial valid, written `123-45-6789` 40, with
//!   spaces 35, as nine digits 20; a known sample number 5; context is needed for High;
//! - IBAN: country, length and mod-97 checksum valid 85;
//! - IPv4 address or CIDR block: 45; octets all under 10 (outline numbers) 25; after a version
//!   word (`v`, `version`, `release`...) 5.

use std::collections::BTreeMap;

use aho_corasick::AhoCorasick;
use palisade_model::{Certainty, CustomPattern, DlpPolicy, Recognizer};
use regex::{Regex, RegexBuilder};

use crate::text::{first_chars, last_chars};

/// Characters before a hit searched for keywords and exclusion words.
const WINDOW_BEFORE: usize = 60;
/// Characters after a hit searched.
const WINDOW_AFTER: usize = 30;

/// What a hit is: a built-in kind or the rule's pattern at an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Builtin(Recognizer),
    Pattern(usize),
}

impl Kind {
    /// The report's key under `dlp_info.hits`.
    pub fn key(self) -> String {
        match self {
            Kind::Builtin(recognizer) => recognizer.key().to_string(),
            Kind::Pattern(index) => format!("regex_{index}"),
        }
    }
}

/// One validated match in a piece of text: byte offsets and its score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub score: u8,
}

impl Match {
    pub fn certainty(&self) -> Certainty {
        Certainty::of_score(self.score)
    }
}

/// A rule's recognizers, compiled once.
pub struct Recognizers {
    builtin: Vec<(Recognizer, Certainty, Regex)>,
    /// The rule's patterns, each with its keywords in lower case.
    patterns: Vec<(CustomPattern, Regex, Words)>,
    keywords: BTreeMap<Recognizer, Words>,
    exclusions: BTreeMap<Recognizer, Words>,
}

/// Words looked for near a hit, all at once (Aho-Corasick), in lower case.
struct Words(Option<AhoCorasick>);

impl Words {
    fn new(words: impl IntoIterator<Item = String>) -> Self {
        let words: Vec<String> = words.into_iter().filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            return Self(None);
        }
        Self(AhoCorasick::new(&words).ok())
    }

    fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl Recognizers {
    /// The recognizers the policy runs; an error names a custom pattern that does not compile.
    pub fn new(policy: &DlpPolicy) -> Result<Self, String> {
        let builtin = policy
            .recognizers
            .iter()
            .map(|(recognizer, floor)| (*recognizer, *floor, candidates(*recognizer)))
            .collect();
        let patterns = policy
            .patterns
            .iter()
            .map(|pattern| {
                RegexBuilder::new(&pattern.pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map(|regex| {
                        let keywords =
                            Words::new(pattern.keywords.iter().map(|w| w.to_lowercase()));
                        (pattern.clone(), regex, keywords)
                    })
                    .map_err(|error| {
                        format!(
                            "the pattern {:?} does not compile: {error}",
                            pattern.display_name
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        let keywords = Recognizer::ALL
            .into_iter()
            .map(|recognizer| {
                let mut words: Vec<String> =
                    keywords(recognizer).iter().map(|w| w.to_string()).collect();
                if let Some(more) = policy.keywords.get(&recognizer) {
                    words.extend(more.iter().map(|w| w.to_lowercase()));
                }
                (recognizer, Words::new(words))
            })
            .collect();
        let exclusions = Recognizer::ALL
            .into_iter()
            .map(|recognizer| {
                let words = exclusions(recognizer).iter().map(|w| w.to_string());
                (recognizer, Words::new(words))
            })
            .collect();
        Ok(Self {
            builtin,
            patterns,
            keywords,
            exclusions,
        })
    }

    /// Every hit in `text` at or above its recognizer's lowest reported certainty, in order.
    pub fn find(&self, text: &str) -> Vec<Match> {
        let mut found: Vec<(Certainty, Match)> = Vec::new();
        for (recognizer, floor, regex) in &self.builtin {
            for candidate in regex.find_iter(text) {
                let (start, end) = (candidate.start(), candidate.end());
                if !standalone(text, start, end) {
                    continue;
                }
                let Some(score) = self.score(*recognizer, text, start, end) else {
                    continue;
                };
                found.push((
                    *floor,
                    Match {
                        kind: Kind::Builtin(*recognizer),
                        start,
                        end,
                        score,
                    },
                ));
            }
        }
        // A value inside a longer one of another kind is part of it (the digits of an IBAN
        // are not also a card number).
        let spans: Vec<(usize, usize, Kind)> = found
            .iter()
            .map(|(_, hit)| (hit.start, hit.end, hit.kind))
            .collect();
        let mut found: Vec<Match> = found
            .into_iter()
            .filter(|(floor, hit)| {
                let inside = spans.iter().any(|(start, end, kind)| {
                    *kind != hit.kind
                        && *start <= hit.start
                        && hit.end <= *end
                        && end - start > hit.end - hit.start
                });
                !inside && hit.certainty() >= *floor
            })
            .map(|(_, hit)| hit)
            .collect();
        for (index, (pattern, regex, words)) in self.patterns.iter().enumerate() {
            for candidate in regex.find_iter(text) {
                if candidate.is_empty() {
                    continue;
                }
                let (start, end) = (candidate.start(), candidate.end());
                if !words.is_empty() && !Window::around(text, start, end).has_any(words) {
                    continue;
                }
                found.push(Match {
                    kind: Kind::Pattern(index),
                    start,
                    end,
                    score: pattern.certainty.floor(),
                });
            }
        }
        found.sort_by_key(|hit| (hit.start, hit.kind));
        found
    }

    fn score(&self, recognizer: Recognizer, text: &str, start: usize, end: usize) -> Option<u8> {
        let value = &text[start..end];
        let base = match recognizer {
            Recognizer::Ccn => card_number(value)?,
            Recognizer::Ssn => social_security_number(value)?,
            Recognizer::Iban => iban(value)?,
            Recognizer::Ipv4 => ipv4(value, &last_chars(&text[..start], 20).to_lowercase())?,
        };
        let boost = match recognizer {
            Recognizer::Ssn => 40,
            Recognizer::Ccn | Recognizer::Ipv4 => 20,
            Recognizer::Iban => 10,
        };
        let mut score = i32::from(base);
        let window = Window::around(text, start, end);
        if window.has_any(&self.keywords[&recognizer]) {
            score += boost;
        }
        if window.has_any(&self.exclusions[&recognizer]) {
            score -= 30;
        }
        Some(score.clamp(0, 100) as u8)
    }
}

/// The pattern that finds a recognizer's candidates.
fn candidates(recognizer: Recognizer) -> Regex {
    let pattern = match recognizer {
        // 12 to 19 digits, single spaces or dashes between them.
        Recognizer::Ccn => r"(?-u)\b\d(?:[ -]?\d){11,18}\b",
        Recognizer::Ssn => r"(?-u)\b\d{3}[- ]?\d{2}[- ]?\d{4}\b",
        // Country, check digits, then up to 30 letters and digits, optionally in groups.
        Recognizer::Iban => r"(?-u)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
        Recognizer::Ipv4 => r"(?-u)\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?:/\d{1,2})?\b",
    };
    Regex::new(pattern).expect("the built-in patterns compile")
}

/// Whether a candidate stands alone rather than being part of a longer token: no dash, slash,
/// colon or the like joins it to letters or digits on either side, and no dot to digits (a
/// version `1.2.3.4.5`, a UUID's group, a path, a time; `536-22-8726.txt` stands alone).
fn standalone(text: &str, start: usize, end: usize) -> bool {
    let joined = |joint: Option<char>, beyond: Option<char>| match joint {
        Some('.') => beyond.is_some_and(|c| c.is_ascii_digit()),
        Some('-' | '/' | ':' | '_' | '+' | '=') => {
            beyond.is_some_and(|c| c.is_ascii_alphanumeric())
        }
        _ => false,
    };
    let mut back = text[..start].chars().rev();
    let mut ahead = text[end..].chars();
    let (b1, b2) = (back.next(), back.next());
    let (a1, a2) = (ahead.next(), ahead.next());
    !joined(b1, b2) && !joined(a1, a2) && b1 != Some('#')
}

/// The text around a hit, in lower case, where keywords and exclusion words are looked for.
struct Window(String);

impl Window {
    fn around(text: &str, start: usize, end: usize) -> Self {
        let before = last_chars(&text[..start], WINDOW_BEFORE);
        let after = first_chars(&text[end..], WINDOW_AFTER);
        let mut window = String::with_capacity(before.len() + after.len() + 1);
        window.push_str(before);
        window.push(' ');
        window.push_str(after);
        window.make_ascii_lowercase();
        if !window.is_ascii() {
            window = window.to_lowercase();
        }
        Self(window)
    }

    /// Whether one of `words` stands as a word in the window.
    fn has_any(&self, words: &Words) -> bool {
        let Some(automaton) = &words.0 else {
            return false;
        };
        let window = &self.0;
        automaton.find_overlapping_iter(window).any(|found| {
            let left = window[..found.start()].chars().next_back();
            let right = window[found.end()..].chars().next();
            !left.is_some_and(char::is_alphanumeric) && !right.is_some_and(char::is_alphanumeric)
        })
    }
}

fn keywords(recognizer: Recognizer) -> &'static [&'static str] {
    match recognizer {
        Recognizer::Ccn => &[
            "card",
            "credit",
            "debit",
            "visa",
            "mastercard",
            "amex",
            "american express",
            "discover",
            "diners",
            "jcb",
            "unionpay",
            "maestro",
            "cc",
            "ccn",
            "pan",
            "cardholder",
            "card number",
            "payment",
            "expiry",
            "exp",
            "cvv",
            "cvc",
        ],
        Recognizer::Ssn => &[
            "ssn",
            "ssn#",
            "ss#",
            "ss no",
            "social security",
            "social sec",
            "soc sec",
            "social security number",
            "social security no",
            "ssa",
            "taxpayer",
            "tin",
        ],
        Recognizer::Iban => &[
            "iban", "bank", "account", "transfer", "swift", "bic", "sepa",
        ],
        Recognizer::Ipv4 => &[
            "ip",
            "ipv4",
            "address",
            "host",
            "server",
            "gateway",
            "subnet",
            "netmask",
            "dns",
            "connected",
            "from",
            "source",
            "destination",
            "firewall",
        ],
    }
}

/// Words near a candidate that say it is something else.
fn exclusions(recognizer: Recognizer) -> &'static [&'static str] {
    match recognizer {
        Recognizer::Ccn => &[
            "order",
            "invoice",
            "tracking",
            "reference",
            "ref",
            "isbn",
            "serial",
            "sku",
            "phone",
            "tel",
            "fax",
            "account id",
            "customer id",
            "transaction id",
        ],
        Recognizer::Ssn => &[
            "phone",
            "tel",
            "telephone",
            "fax",
            "mobile",
            "cell",
            "call",
            "order",
            "invoice",
            "zip",
            "isbn",
            "part",
            "serial",
        ],
        Recognizer::Iban => &[],
        Recognizer::Ipv4 => &["version", "release", "build", "oid", "section", "chapter"],
    }
}

/// The digits of a value, and its separators.
fn digits_and_separators(value: &str) -> (Vec<u8>, Vec<char>) {
    let digits = value
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    let separators = value.chars().filter(|c| !c.is_ascii_digit()).collect();
    (digits, separators)
}

/// The Luhn checksum holds.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(at, digit)| {
            let digit = u32::from(*digit);
            if at % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Card numbers that issuers and payment processors publish for testing.
const TEST_CARDS: [&str; 18] = [
    "4111111111111111",
    "4242424242424242",
    "4012888888881881",
    "4222222222222",
    "4000056655665556",
    "4000000000000002",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "378734493671000",
    "6011111111111117",
    "6011000990139424",
    "30569309025904",
    "38520000023237",
    "3530111333300000",
];

/// The lengths the issuer whose prefix the number has gives its cards; `None` for no issuer.
fn issuer_lengths(digits: &[u8]) -> Option<&'static [usize]> {
    let prefix = |n: usize| {
        digits
            .iter()
            .take(n)
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
    };
    Some(
        match (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6)) {
            (4, ..) => &[13, 16, 19],
            (_, 51..=55, ..) | (_, _, _, 2221..=2720, _) => &[16],
            (_, 34 | 37, ..) => &[15],
            (_, _, _, 6011, _) | (_, _, 644..=649, ..) | (_, 65, ..) => &[16, 17, 18, 19],
            (_, _, 300..=305, ..) | (_, 36 | 38 | 39, ..) => &[14, 15, 16, 17, 18, 19],
            // JCB (3528-3589 today; 35 as a whole keeps older and regional ranges).
            (_, 35, ..) => &[16, 17, 18, 19],
            (_, 62, ..) => &[16, 17, 18, 19],
            // Maestro, including the UK 0604 and 6304.
            (_, 50 | 56..=58, ..)
            | (_, _, _, _, 639000..=639999)
            | (_, _, _, 604 | 6304, _)
            | (_, 67, ..) => &[12, 13, 14, 15, 16, 17, 18, 19],
            _ => return None,
        },
    )
}

/// Whether the groups are those issuers print: fours with a shorter last group (4-4-4-4,
/// 4-4-4-4-3, 4-4-4 for 12 digits), American Express and Diners 4-6-5 and 4-6-4, and the
/// 13-digit and 19-digit layouts 4-3-3-3, 4-4-5 and 6-13.
fn grouped_as_printed(value: &str, length: usize) -> bool {
    let groups: Vec<usize> = value.split([' ', '-']).map(str::len).collect();
    let Some((last, fours)) = groups.split_last() else {
        return false;
    };
    if groups.len() >= 3 && fours.iter().all(|size| *size == 4) && (2..=4).contains(last) {
        return true;
    }
    let printed: &[&[usize]] = match length {
        13 => &[&[4, 3, 3, 3], &[4, 4, 5]],
        14 => &[&[4, 6, 4]],
        15 => &[&[4, 6, 5]],
        19 => &[&[6, 13]],
        _ => &[],
    };
    printed.contains(&groups.as_slice())
}

fn card_number(value: &str) -> Option<u8> {
    let (digits, separators) = digits_and_separators(value);
    if !(12..=19).contains(&digits.len()) || !luhn(&digits) {
        return None;
    }
    // One kind of separator, or none.
    if separators.windows(2).any(|pair| pair[0] != pair[1]) {
        return None;
    }
    if !issuer_lengths(&digits)?.contains(&digits.len()) {
        return None;
    }
    let plain: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    if TEST_CARDS.contains(&plain.as_str()) || digits.iter().all(|d| *d == digits[0]) {
        return Some(10);
    }
    if separators.is_empty() {
        Some(60)
    } else if grouped_as_printed(value, digits.len()) {
        Some(70)
    } else {
        // Separated, but not as any issuer prints it.
        Some(35)
    }
}

/// Numbers published as examples (on cards in wallets sold with them, in the SSA's own
/// documents), which are not anyone's.
const SAMPLE_SSNS: [&str; 5] = [
    "078051120",
    "219099999",
    "123456789",
    "457555462",
    "111111111",
];

fn social_security_number(value: &str) -> Option<u8> {
    let (digits, separators) = digits_and_separators(value);
    if digits.len() != 9 {
        return None;
    }
    // `123-45 6789`: one delimiter in both places, or none.
    match separators.as_slice() {
        [] | [_, _] => {}
        _ => return None,
    }
    if separators.len() == 2 && separators[0] != separators[1] {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
    };
    let (area, group, serial) = (number(0..3), number(3..5), number(5..9));
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return None;
    }
    let plain: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    if SAMPLE_SSNS.contains(&plain.as_str()) || digits.iter().all(|d| *d == digits[0]) {
        return Some(5);
    }
    Some(match separators.first() {
        Some('-') => 40,
        Some(_) => 35,
        None => 20,
    })
}

/// IBAN lengths by country (the SWIFT registry).
const IBAN_LENGTHS: [(&str, usize); 89] = [
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn iban(value: &str) -> Option<u8> {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    let grouped = value.contains(' ');
    if grouped && value.split(' ').rev().skip(1).any(|group| group.len() != 4) {
        return None;
    }
    let (_, length) = IBAN_LENGTHS
        .iter()
        .find(|(country, _)| compact.starts_with(country))?;
    if compact.len() != *length {
        return None;
    }
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut remainder = 0u32;
    for c in rearranged {
        let value = c.to_digit(36)?;
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    (remainder == 1).then_some(85)
}

fn ipv4(value: &str, lead: &str) -> Option<u8> {
    let (address, prefix) = match value.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (value, None),
    };
    if prefix.is_some_and(|p| p.parse::<u8>().map_or(true, |p| p > 32)) {
        return None;
    }
    let octets: Vec<&str> = address.split('.').collect();
    let mut values = Vec::new();
    for octet in &octets {
        if octet.len() > 1 && octet.starts_with('0') {
            return None;
        }
        values.push(octet.parse::<u16>().ok().filter(|v| *v <= 255)?);
    }
    let word_before = lead
        .trim_end()
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default();
    if lead.ends_with('v')
        || ["v", "version", "ver", "release", "rev", "build"].contains(&word_before)
    {
        return Some(5);
    }
    if values.iter().all(|v| *v < 10) {
        return Some(25);
    }
    Some(45)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, String, Certainty)> {
        let recognizers = Recognizers::new(&DlpPolicy {
            recognizers: Recognizer::ALL
                .into_iter()
                .map(|r| (r, Certainty::VeryLow))
                .collect(),
            ..DlpPolicy::default()
        })
        .unwrap();
        recognizers
            .find(text)
            .into_iter()
            .map(|hit| {
                (
                    hit.kind.key(),
                    text[hit.start..hit.end].to_string(),
                    hit.certainty(),
                )
            })
            .collect()
    }

    fn one(text: &str) -> (String, String, Certainty) {
        let hits = found(text);
        assert_eq!(hits.len(), 1, "{text}: {hits:?}");
        hits.into_iter().next().unwrap()
    }

    #[test]
    fn card_numbers_are_found_by_checksum_issuer_and_format() {
        let (key, hit, certainty) = one("Paid with Visa card 4556 7375 8689 9855, expiring 04/27.");
        assert_eq!((key.as_str(), hit.as_str()), ("ccn", "4556 7375 8689 9855"));
        assert_eq!(certainty, Certainty::VeryHigh);
        assert_eq!(one("number 5425233430109903 on file").2, Certainty::High);
        assert_eq!(
            one("amex 3782-822463-12340").2,
            Certainty::VeryHigh,
            "Amex printed 4-6-5"
        );
        // Luhn fails by one digit.
        assert!(found("card 4556 7375 8689 9856").is_empty());
        // Mixed separators.
        assert!(found("card 4556-7375 8689 9855").is_empty());
        // No issuer starts with 9.
        assert!(found("card 9556737586899855").iter().all(|h| h.0 != "ccn"));
        // The digits inside an IBAN are the IBAN's, not a card number.
        assert_eq!(
            found("IBAN ES21 5075 2735 9245 4948 0831 for the deposit"),
            [(
                "iban".to_string(),
                "ES21 5075 2735 9245 4948 0831".to_string(),
                Certainty::VeryHigh
            )]
        );
        // Maestro's 12 digits in fours, and a 19-digit number in fours and three.
        assert_eq!(one("card 6759 2934 3019").2, Certainty::VeryHigh);
        assert_eq!(one("card 4556 7375 8689 9855 402").2, Certainty::VeryHigh);
    }

    #[test]
    fn test_numbers_ids_and_hashes_are_not_high() {
        for negative in [
            "Stripe test card 4242 4242 4242 4242",
            "use 4111111111111111 in the sandbox",
            "Order #4556737586899855 shipped",
            "order number 5425233430109903 shipped",
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "id 550e8400-e29b-41d4-a716-446655440000",
            "call +1 415-555-0132 or 415 555 0199",
            "ISBN 978-3-16-148410-0",
            "on 2024-03-15 at 10:30:00",
            "version 1.2.3.4 of the tool",
            "see section 1.2.3.4",
            "tracking 1Z999AA10123456784",
        ] {
            for (key, hit, certainty) in found(negative) {
                assert!(
                    certainty < Certainty::High,
                    "{negative}: {key} {hit} {certainty:?}"
                );
            }
        }
    }

    #[test]
    fn social_security_numbers_need_valid_parts_and_context_for_high() {
        assert_eq!(one("SSN: 536-22-8726").2, Certainty::VeryHigh);
        assert_eq!(one("the number 536-22-8726 was").2, Certainty::Medium);
        assert_eq!(one("social security number 536228726").2, Certainty::High);
        assert_eq!(one("ref 536228726 here").2, Certainty::Low);
        for invalid in [
            "SSN 000-22-8726",
            "SSN 666-22-8726",
            "SSN 936-22-8726",
            "SSN 536-00-8726",
            "SSN 536-22-0000",
            "SSN 536-22 8726",
        ] {
            assert!(
                found(invalid).iter().all(|h| h.0 != "ssn"),
                "{invalid}: {:?}",
                found(invalid)
            );
        }
        assert_eq!(
            one("SSN 078-05-1120").2,
            Certainty::Medium,
            "the wallet sample"
        );
    }

    #[test]
    fn ibans_need_their_country_length_and_checksum() {
        let (key, hit, certainty) = one("Pay to IBAN GB82 WEST 1234 5698 7654 32 today");
        assert_eq!(
            (key.as_str(), hit.as_str()),
            ("iban", "GB82 WEST 1234 5698 7654 32")
        );
        assert_eq!(certainty, Certainty::VeryHigh);
        assert_eq!(one("DE89370400440532013000").0, "iban");
        assert!(found("GB83 WEST 1234 5698 7654 32").is_empty(), "checksum");
        assert!(found("GB82 WEST 1234 5698 7654").is_empty(), "length");
    }

    #[test]
    fn addresses_are_found_and_versions_and_outlines_are_not() {
        assert_eq!(
            one("connected from 203.0.113.54 at noon").2,
            Certainty::High
        );
        assert_eq!(one("the block 10.20.0.0/16").1, "10.20.0.0/16");
        assert!(found("address 300.1.1.1").is_empty());
        assert!(found("address 10.0.0.1/33").is_empty());
        assert!(found("tool 1.2.3.4.5 released").is_empty());
        assert!(found("v10.2.1.15").is_empty());
        assert_eq!(one("release 10.2.1.15 is out").2, Certainty::VeryLow);
    }

    #[test]
    fn custom_patterns_report_under_their_index_with_keywords_and_certainty() {
        let policy = DlpPolicy {
            recognizers: BTreeMap::new(),
            patterns: vec![
                CustomPattern {
                    display_name: "Employee id".into(),
                    pattern: r"\bEMP-\d{6}\b".into(),
                    keywords: Vec::new(),
                    certainty: Certainty::Medium,
                },
                CustomPattern {
                    display_name: "Project code".into(),
                    pattern: r"\b[A-Z]{3}\d{3}\b".into(),
                    keywords: vec!["Project".into()],
                    certainty: Certainty::VeryHigh,
                },
            ],
            ..DlpPolicy::default()
        };
        let recognizers = Recognizers::new(&policy).unwrap();
        let text = "EMP-123456 works on project ABC123. The labels on the shelves of the \
                    warehouse downstairs read XYZ999.";
        let hits: Vec<(String, &str, Certainty)> = recognizers
            .find(text)
            .into_iter()
            .map(|hit| (hit.kind.key(), &text[hit.start..hit.end], hit.certainty()))
            .collect();
        assert_eq!(
            hits,
            vec![
                ("regex_0".into(), "EMP-123456", Certainty::Medium),
                ("regex_1".into(), "ABC123", Certainty::VeryHigh),
            ]
        );
        let bad = DlpPolicy {
            patterns: vec![CustomPattern {
                display_name: "Broken".into(),
                pattern: "(".into(),
                keywords: Vec::new(),
                certainty: Certainty::High,
            }],
            ..DlpPolicy::default()
        };
        let error = Recognizers::new(&bad).err().unwrap();
        assert!(error.contains("Broken"), "{error}");
    }
}
