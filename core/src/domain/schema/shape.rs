//! The verdict half of the plain validator: a plain schema folded into one
//! shape per node, so a valid instance (the usual case) is checked with one
//! pass over each object's members and no report is built. `plain` keeps
//! the keyword-ordered checks that build a report.
//!
//! Folding `properties` and `required` into one list of members halves the
//! name comparisons: each member of the instance is looked up once, and the
//! required names it meets are ticked off in a bit mask.

use serde_json::{Map, Number, Value};

use super::values::{Bound, Kind};

/// Beyond this many names in `properties` and `required` together a node is
/// left to the crate: one bit per member must fit in a `u64`.
pub(super) const MOST_MEMBERS: usize = 64;

#[derive(Default)]
pub(super) struct Shape {
    kind: Option<Kind>,
    bounds: Vec<(Bound, Number)>,
    /// Least and most characters of a string.
    length: Option<(u64, u64)>,
    /// Least and most items of an array.
    count: Option<(u64, u64)>,
    items: Option<Box<Shape>>,
    /// Every name in `properties` or `required`, with its schema if any.
    members: Vec<(Name, Option<Shape>)>,
    /// Bit i: `members[i]` is required.
    required: u64,
    /// No `items` and no members: checked without a call.
    leaf: bool,
}

impl Shape {
    /// The shape of a node `plain` has already taken (every keyword known).
    pub(super) fn of(schema: &Map<String, Value>) -> Self {
        let mut shape = Shape::default();
        for (keyword, value) in schema {
            let limit = value.as_u64();
            match (keyword.as_str(), value) {
                ("type", Value::String(name)) => shape.kind = Kind::named(name),
                ("minimum", Value::Number(n)) => shape.bounds.push((Bound::Minimum, n.clone())),
                ("maximum", Value::Number(n)) => shape.bounds.push((Bound::Maximum, n.clone())),
                ("exclusiveMinimum", Value::Number(n)) => {
                    shape.bounds.push((Bound::ExclusiveMinimum, n.clone()));
                }
                ("exclusiveMaximum", Value::Number(n)) => {
                    shape.bounds.push((Bound::ExclusiveMaximum, n.clone()));
                }
                ("minLength", _) => narrow(&mut shape.length, limit, true),
                ("maxLength", _) => narrow(&mut shape.length, limit, false),
                ("minItems", _) => narrow(&mut shape.count, limit, true),
                ("maxItems", _) => narrow(&mut shape.count, limit, false),
                ("items", Value::Object(items)) => shape.items = Some(Box::new(Shape::of(items))),
                ("properties", Value::Object(properties)) => {
                    for (name, property) in properties {
                        let property = property.as_object().map(Shape::of);
                        shape.member(name).1 = property;
                    }
                }
                ("required", Value::Array(names)) => {
                    for name in names.iter().filter_map(Value::as_str) {
                        shape.member(name);
                        let index = shape.members.iter().position(|(n, _)| n.text == name);
                        shape.required |= index.map_or(0, |i| 1u64 << i);
                    }
                }
                _ => {}
            }
        }
        shape.leaf = shape.items.is_none() && shape.members.is_empty();
        shape
    }

    fn member(&mut self, name: &str) -> &mut (Name, Option<Shape>) {
        match self.members.iter().position(|(n, _)| n.text == name) {
            Some(index) => &mut self.members[index],
            None => {
                self.members.push((Name::of(name), None));
                self.members.last_mut().expect("just pushed")
            }
        }
    }

    /// A leaf (no `items`, no members) is checked in its caller; only
    /// arrays and objects cost a call, which kept a third of the time.
    #[inline(always)]
    fn holds_inline(&self, instance: &Value) -> bool {
        if self.leaf {
            self.holds_here(instance)
        } else {
            self.holds(instance)
        }
    }

    pub(super) fn holds(&self, instance: &Value) -> bool {
        self.holds_here(instance)
            && match instance {
                Value::Array(items) => self
                    .items
                    .as_ref()
                    .is_none_or(|shape| items.iter().all(|item| shape.holds_inline(item))),
                Value::Object(map) => self.members.is_empty() || self.members_hold(map),
                _ => true,
            }
    }

    /// This node's own keywords, not its items' or members'.
    #[inline(always)]
    fn holds_here(&self, instance: &Value) -> bool {
        if let Some(kind) = self.kind
            && !kind.holds(instance)
        {
            return false;
        }
        match instance {
            Value::Number(n) => self
                .bounds
                .iter()
                .all(|(bound, limit)| bound.holds(n, limit)),
            Value::String(s) => self
                .length
                .is_none_or(|range| between(s.chars().count() as u64, range)),
            Value::Array(items) => self
                .count
                .is_none_or(|range| between(items.len() as u64, range)),
            _ => true,
        }
    }

    fn members_hold(&self, map: &Map<String, Value>) -> bool {
        let mut seen = 0u64;
        for (key, value) in map {
            let Some(index) = self.members.iter().position(|(name, _)| name.is(key)) else {
                continue;
            };
            if let Some(shape) = &self.members[index].1
                && !shape.holds_inline(value)
            {
                return false;
            }
            seen |= 1 << index;
        }
        seen & self.required == self.required
    }
}

/// A member's name with its first eight bytes as a number: most names are
/// told apart, or matched whole, without a call to compare memory.
struct Name {
    text: String,
    head: u64,
}

impl Name {
    fn of(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            head: head(text),
        }
    }

    /// Lengths first: a key's head is read only for a name as long as it.
    #[inline]
    fn is(&self, key: &str) -> bool {
        self.text.len() == key.len()
            && self.head == head(key)
            && (key.len() <= 8 || self.text.as_bytes()[8..] == key.as_bytes()[8..])
    }
}

/// Eight bytes that, with the length, tell a name of up to eight bytes
/// apart from any other: the first eight; or the first and last four, which
/// overlap below eight; or the first, middle and last byte below four. Two
/// or three loads, where a loop over the bytes cost a tenth of a check.
#[inline]
fn head(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let n = bytes.len();
    if let Some(first) = bytes.first_chunk::<8>() {
        u64::from_le_bytes(*first)
    } else if n >= 4 {
        let word = |at: usize| {
            u64::from(u32::from_le_bytes([
                bytes[at],
                bytes[at + 1],
                bytes[at + 2],
                bytes[at + 3],
            ]))
        };
        word(0) | word(n - 4) << 32
    } else if n > 0 {
        u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16
    } else {
        0
    }
}

fn narrow(range: &mut Option<(u64, u64)>, limit: Option<u64>, least: bool) {
    let (mut low, mut high) = range.unwrap_or((0, u64::MAX));
    let limit = limit.unwrap_or(if least { 0 } else { u64::MAX });
    if least {
        low = limit;
    } else {
        high = limit;
    }
    *range = Some((low, high));
}

fn between(size: u64, (low, high): (u64, u64)) -> bool {
    low <= size && size <= high
}
