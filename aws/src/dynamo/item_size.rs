//! DynamoDB's item size rules, as its billing applies them: every attribute
//! counts its name and its value; numbers by significant digits; lists and
//! maps 3 bytes plus 1 per element.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::Item;

/// The most a DynamoDB item may hold.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The item restricted to `attributes` (an index entry).
pub fn projected_size(item: &Item, attributes: &[String]) -> usize {
    item.iter()
        .filter(|(name, _)| attributes.contains(name))
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn number_size(text: &str) -> usize {
    let digits: String = text
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .trim_start_matches('0')
        .trim_end_matches('0')
        .to_owned();
    digits.len().div_ceil(2) + 1
}

pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Write request units of a write of `bytes` (1 KB each, rounded up, at least 1).
pub fn write_units(bytes: usize) -> u64 {
    (bytes.max(1) as u64).div_ceil(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_published_rules() {
        let s = |v: &str| AttributeValue::S(v.into());
        let item: Item = [
            ("PK".to_owned(), s("TASK#1")),
            ("n".to_owned(), AttributeValue::N("12300".into())),
        ]
        .into();
        // "PK" 2 + 6; "n" 1 + (3 significant digits → 2) + 1.
        assert_eq!(item_size(&item), 8 + 4);
        let list = AttributeValue::L(vec![s("ab"), s("c")]);
        assert_eq!(value_size(&list), 3 + (1 + 2) + (1 + 1));
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(0), 1);
    }
}
