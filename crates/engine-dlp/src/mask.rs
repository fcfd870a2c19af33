//! What a stored report shows of a hit: masked by default, so that the report database does
//! not become a store of the data DLP exists to keep in.
//!
//! A card number keeps its first four and last four digits (`4556 **** **** 9855`), as
//! receipts print it; any other hit keeps its last four letters and digits (`***-**-8726`), and one shorter than
//! eight none.
//! Separators stay, so the shape is still visible. In the context before and after a hit,
//! every digit is masked.

use crate::Kind;
use palisade_model::Recognizer;

const MASK: char = '*';

/// The hit as the report shows it when values are masked.
pub fn hit(kind: Kind, value: &str) -> String {
    let total = value.chars().filter(char::is_ascii_alphanumeric).count();
    let keep_first = match kind {
        Kind::Builtin(Recognizer::Ccn) => 4,
        _ => 0,
    };
    let keep_last = if total >= 8 { 4 } else { 0 };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_ascii_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen <= keep_first || seen > total - keep_last {
                c
            } else {
                MASK
            }
        })
        .collect()
}

/// Context text as the report shows it when values are masked: no digit of it.
pub fn context(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_digit() { MASK } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_keep_only_what_a_receipt_shows() {
        let ccn = Kind::Builtin(Recognizer::Ccn);
        assert_eq!(hit(ccn, "4556 7375 8689 9855"), "4556 **** **** 9855");
        assert_eq!(hit(ccn, "4556737586899855"), "4556********9855");
        let ssn = Kind::Builtin(Recognizer::Ssn);
        assert_eq!(hit(ssn, "536-22-8726"), "***-**-8726");
        let iban = Kind::Builtin(Recognizer::Iban);
        assert_eq!(
            hit(iban, "GB82 WEST 1234 5698 7654 32"),
            "**** **** **** **** **54 32"
        );
        assert_eq!(
            hit(Kind::Pattern(0), "AB-1234"),
            "**-****",
            "short hits hide all"
        );
        assert_eq!(context("exp 04/27, cvv 123"), "exp **/**, cvv ***");
    }
}
