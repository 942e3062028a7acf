//! What both halves of the plain validator check a single value by: its
//! JSON type and the numeric bounds, exactly as the `jsonschema` crate (the
//! tests' reference) does; the general validator checks them the same way.

use std::cmp::Ordering;

use serde_json::{Number, Value};

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Null,
    Boolean,
    Object,
    Array,
    Number,
    String,
    Integer,
}

#[derive(Clone, Copy)]
pub(super) enum Bound {
    Minimum,
    Maximum,
    ExclusiveMinimum,
    ExclusiveMaximum,
}

impl Kind {
    /// The order a message names several types in.
    pub(super) const ORDER: [Kind; 7] = [
        Kind::Null,
        Kind::Boolean,
        Kind::Integer,
        Kind::Number,
        Kind::String,
        Kind::Array,
        Kind::Object,
    ];

    pub(super) fn holds(self, instance: &Value) -> bool {
        match (self, instance) {
            (Kind::Null, Value::Null)
            | (Kind::Boolean, Value::Bool(_))
            | (Kind::Object, Value::Object(_))
            | (Kind::Array, Value::Array(_))
            | (Kind::Number, Value::Number(_))
            | (Kind::String, Value::String(_)) => true,
            (Kind::Integer, Value::Number(n)) => is_integer(n),
            _ => false,
        }
    }

    pub(super) fn named(name: &str) -> Option<Self> {
        Some(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "object" => Kind::Object,
            "array" => Kind::Array,
            "number" => Kind::Number,
            "string" => Kind::String,
            "integer" => Kind::Integer,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Integer => "integer",
        }
    }
}

/// As the crate has it: an integer, or a float with no fraction.
pub(super) fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(is_whole)
}

/// `f.fract() == 0.0`, out of line: inlined, the compiler computed it at
/// the top of every report node, numbers or not, where its conversions
/// stalled each node's walk (a fifth of an invalid instance's report).
/// JSON integers are rarely written as floats. Every float from 2^52 up is
/// whole; below it, a float truncated to `i64` and back is itself only if
/// it is whole (both conversions are instructions, not a call to libm's
/// `trunc`).
#[cold]
#[inline(never)]
fn is_whole(f: f64) -> bool {
    const WHOLE_FROM: f64 = 4_503_599_627_370_496.0; // 2^52
    f.abs() >= WHOLE_FROM || (f as i64) as f64 == f
}

impl Bound {
    #[inline]
    pub(super) fn holds(self, value: &Number, limit: &Number) -> bool {
        let order = compare(value, limit);
        match self {
            Bound::Minimum => order != Ordering::Less,
            Bound::Maximum => order != Ordering::Greater,
            Bound::ExclusiveMinimum => order == Ordering::Greater,
            Bound::ExclusiveMaximum => order == Ordering::Less,
        }
    }

    pub(super) fn phrase(self) -> &'static str {
        match self {
            Bound::Minimum => "is less than the minimum of",
            Bound::Maximum => "is greater than the maximum of",
            Bound::ExclusiveMinimum => "is less than or equal to the minimum of",
            Bound::ExclusiveMaximum => "is greater than or equal to the maximum of",
        }
    }
}

/// Two JSON numbers compared exactly, as the crate does: an integer beyond
/// 2^53 is not rounded to the nearest float first.
#[inline]
fn compare(a: &Number, b: &Number) -> Ordering {
    // The usual numbers are floats exactly: the quick way is exact for them.
    if let (Some(x), Some(y)) = (as_exact_float(a), as_exact_float(b)) {
        return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    }
    match (exact(a), exact(b)) {
        (Exact::Int(x), Exact::Int(y)) => x.cmp(&y),
        (Exact::Float(x), Exact::Float(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Exact::Int(x), Exact::Float(y)) => int_against_float(x, y),
        (Exact::Float(x), Exact::Int(y)) => int_against_float(y, x).reverse(),
    }
}

/// A float, or an integer no larger than 2^53 (a float exactly).
#[inline]
pub(super) fn as_exact_float(n: &Number) -> Option<f64> {
    const EXACT: u64 = 1 << 53;
    if let Some(i) = n.as_i64() {
        (i.unsigned_abs() <= EXACT).then_some(i as f64)
    } else if n.is_f64() {
        n.as_f64()
    } else {
        None
    }
}

enum Exact {
    Int(i128),
    Float(f64),
}

fn exact(n: &Number) -> Exact {
    if let Some(u) = n.as_u64() {
        Exact::Int(i128::from(u))
    } else if let Some(i) = n.as_i64() {
        Exact::Int(i128::from(i))
    } else {
        // serde_json's numbers are u64, i64 or a finite f64.
        Exact::Float(n.as_f64().unwrap_or(0.0))
    }
}

/// Only for an integer beyond 2^53, so the float is whole or far off. Kept
/// out of line: inlined, its float calls were hoisted onto the quick path.
#[cold]
#[inline(never)]
fn int_against_float(int: i128, float: f64) -> Ordering {
    let floor = float.floor();
    // `as` saturates; every JSON integer is far inside i128, so a saturated
    // floor still compares the right way.
    match int.cmp(&(floor as i128)) {
        Ordering::Equal if float > floor => Ordering::Less,
        order => order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick test agrees with `fract` wherever a JSON float can be:
    /// around zero (a subnormal too), around the halves, either side of
    /// 2^52 where the test changes and the float's fraction bits run out,
    /// and beyond `i64`.
    #[test]
    fn a_whole_float_is_told_as_fract_tells_it() {
        let two_52 = 4_503_599_627_370_496.0_f64;
        let samples = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.5,
            1e-300,
            5e-324,
            -5e-324,
            two_52 - 0.5,
            -(two_52 - 0.5),
            two_52 - 1.0,
            -(two_52 - 1.0),
            two_52,
            -two_52,
            two_52 + 1.0,
            two_52 * 2.0,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
        ];
        for f in samples {
            assert_eq!(is_whole(f), f.fract() == 0.0, "{f}");
        }
    }
}
