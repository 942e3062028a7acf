//! Values written so that string order is their order: the sort keys of
//! the table's indexes, which DynamoDB compares as strings.

/// Milliseconds zero-padded so that string order is time order.
pub fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:015}", at.timestamp_millis().max(0))
}

/// Sorts after every `time`: what has no time comes last.
pub const NO_TIME: &str = "999999999999999";

/// A number as 16 hex digits of its IEEE 754 bits, arranged so that
/// negatives sort below positives and each in numeric order.
pub fn number(x: f64) -> String {
    // -0.0 and 0.0 are one number.
    let bits = if x == 0.0 { 0.0f64 } else { x }.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    format!("{ordered:016x}")
}

/// The most characters of a text a key keeps.
pub const MAX_TEXT_CHARS: usize = 200;

/// A text as it is compared: lower case, trimmed, without control
/// characters, cut at `MAX_TEXT_CHARS`. Characters above U+FFFC become
/// U+FFFC: they then sort the same in UTF-8 (DynamoDB) and UTF-16 order,
/// and below the bound a prefix search closes its range with.
pub fn text(value: &str) -> String {
    value
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c > TEXT_MAX { TEXT_MAX } else { c })
        .take(MAX_TEXT_CHARS)
        .collect()
}

/// The highest character a `text` holds.
pub const TEXT_MAX: char = '\u{FFFC}';
/// Sorts after every character a `text` holds.
pub const AFTER_TEXT: char = '\u{FFFD}';

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_as_numbers() {
        let xs = [
            -1e300, -12.5, -1.0, -0.0001, 0.0, 1e-9, 1.0, 2.0, 10.0, 1e12,
        ];
        let keys: Vec<String> = xs.iter().map(|x| number(*x)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(number(-0.0), number(0.0));
    }

    #[test]
    fn texts_compare_without_case_and_control_characters() {
        assert_eq!(text("  Alice\u{7}  "), "alice");
        assert_eq!(text("Ünal 🚀"), "ünal \u{FFFC}");
        assert_eq!(text(&"x".repeat(500)).chars().count(), MAX_TEXT_CHARS);
    }
}
