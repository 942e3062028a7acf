//! JSON values compared as JSON Schema compares them (`enum`, `const`,
//! `uniqueItems`): numbers by value, so `1` and `1.0` are equal; and
//! `multipleOf`, exactly for decimals.

use serde_json::{Number, Value};

pub(super) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(name, value)| y.get(name).is_some_and(|other| json_equal(value, other)))
        }
        _ => a == b,
    }
}

/// `uniqueItems`: no two items equal. Items are grouped by a hash that
/// equal values share (numbers by value, objects whatever their members'
/// order), and only items in one group are compared: an array of n
/// distinct items costs n hashes, not n² comparisons.
pub(super) fn all_unique(items: &[Value]) -> bool {
    use std::collections::HashMap;
    let mut groups: HashMap<u64, Vec<&Value>> = HashMap::with_capacity(items.len());
    for item in items {
        let group = groups.entry(hash_of(item)).or_default();
        if group.iter().any(|other| json_equal(item, other)) {
            return false;
        }
        group.push(item);
    }
    true
}

fn hash_of(value: &Value) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    match value {
        Value::Null => 0u8.hash(&mut hasher),
        Value::Bool(b) => (1u8, b).hash(&mut hasher),
        Value::Number(n) => {
            // Equal numbers, integer or float, hash alike: by their value
            // as a float (0.0 for -0.0); `json_equal` tells apart what a
            // float rounds together.
            let f = n.as_f64().unwrap_or_default();
            (2u8, if f == 0.0 { 0 } else { f.to_bits() }).hash(&mut hasher);
        }
        Value::String(s) => (3u8, s).hash(&mut hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(&mut hasher);
            for item in items {
                hash_of(item).hash(&mut hasher);
            }
        }
        Value::Object(map) => {
            // Summed, so the members' order does not count.
            let members = map.iter().fold(0u64, |sum, (name, value)| {
                let mut member = DefaultHasher::new();
                (name, hash_of(value)).hash(&mut member);
                sum.wrapping_add(member.finish())
            });
            (5u8, map.len(), members).hash(&mut hasher);
        }
    }
    hasher.finish()
}

fn number_equal(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => x.as_f64() == y.as_f64(),
    }
}

/// Whether `value / by` is an integer. Both as decimals (the shortest
/// text that reads back as each float), so `0.0075` is a multiple of
/// `0.0001` though their floats' quotient is not whole; floats where the
/// decimals do not fit in 128 bits.
pub(super) fn multiple_of(value: &Number, by: &Number) -> bool {
    if let (Some(value), Some(by)) = (value.as_i64(), by.as_i64())
        && by != 0
    {
        // `i64::MIN % -1` overflows; every integer is a multiple of ±1.
        return value.checked_rem(by).is_none_or(|rest| rest == 0);
    }
    if let (Some((vm, ve)), Some((bm, be))) = (decimal(value), decimal(by))
        && bm != 0
    {
        // value = vm·10^ve, by = bm·10^be: scale both to the smaller exponent.
        let shared = ve.min(be);
        let scale = |m: i128, e: i32| {
            u32::try_from(e - shared)
                .ok()
                .and_then(|p| 10_i128.checked_pow(p))
                .and_then(|f| m.checked_mul(f))
        };
        if let (Some(v), Some(b)) = (scale(vm, ve), scale(bm, be)) {
            return v % b == 0;
        }
    }
    match (value.as_f64(), by.as_f64()) {
        (Some(v), Some(b)) if b != 0.0 => {
            let quotient = v / b;
            if quotient.is_finite() {
                quotient.fract() == 0.0
            } else {
                v % b == 0.0
            }
        }
        _ => false,
    }
}

/// A number as mantissa and power of ten, from its shortest text.
fn decimal(n: &Number) -> Option<(i128, i32)> {
    let text = n.to_string();
    let (digits, exponent) = match text.split_once(['e', 'E']) {
        Some((digits, exponent)) => (digits, exponent.parse::<i32>().ok()?),
        None => (text.as_str(), 0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mantissa: i128 = format!("{whole}{fraction}").parse().ok()?;
    Some((mantissa, exponent - i32::try_from(fraction.len()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn number(value: Value) -> Number {
        value.as_number().unwrap().clone()
    }

    #[test]
    fn numbers_are_equal_by_value_anywhere_in_a_value() {
        assert!(json_equal(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 1})));
        assert!(!json_equal(&json!(false), &json!(0)));
    }

    #[test]
    fn multiples_are_exact_for_decimals() {
        let multiple = |v: Value, by: Value| multiple_of(&number(v), &number(by));
        assert!(multiple(json!(0.0075), json!(0.0001)));
        assert!(!multiple(json!(0.00751), json!(0.0001)));
        assert!(multiple(json!(4.5), json!(1.5)));
        assert!(!multiple(json!(35), json!(1.5)));
        assert!(multiple(json!(10), json!(2)));
        assert!(!multiple(json!(7), json!(2)));
        assert!(multiple(json!(1e308), json!(0.5)));
        assert!(!multiple(json!(1e-320), json!(1)));
        assert!(multiple(json!(i64::MIN), json!(-1)));
    }

    #[test]
    fn unique_items_are_told_by_value_in_any_member_order() {
        assert!(!all_unique(&[
            json!({"a": 1, "b": [1.0]}),
            json!({"b": [1], "a": 1.0})
        ]));
        assert!(!all_unique(&[json!(0), json!(-0.0)]));
        assert!(all_unique(&[
            json!(9007199254740993u64),
            json!(9007199254740992u64)
        ]));
        let many: Vec<Value> = (0..100_000).map(|i| json!(i)).collect();
        assert!(all_unique(&many));
        let mut twice = many.clone();
        twice.push(json!(99_999.0));
        assert!(!all_unique(&twice));
    }
}
