//! The verdict half of the plain validator: each node of a plain schema
//! compiled to the one test its type needs, so a valid instance (the usual
//! case) is checked with one pass over each object's members and no report
//! is built. `plain` keeps the keyword-ordered checks that build a report.
//!
//! A node with a `type` can only hold for values of that type, so only that
//! type's keywords are kept: a string node is its length range and nothing
//! else, and checking it is one match and two comparisons. A general node
//! with every field, tested field by field, cost a third more on the
//! bench's order. A node without a `type` keeps each type's part and
//! applies the part of the value's type.
//!
//! Folding `properties` and `required` into one list of members halves the
//! name comparisons: each member of the instance is looked up once, and the
//! required names it meets are ticked off in a bit mask.

use serde_json::{Map, Number, Value};

use super::names::{Key, Name};
use super::values::{Bound, Kind, as_exact_float, is_integer};

/// Beyond this many names in `properties` and `required` together a node is
/// left to the general validator: one bit per member must fit in a `u64`.
pub(super) const MOST_MEMBERS: usize = 64;

pub(super) enum Shape {
    /// No keyword that asserts anything.
    Any,
    Null,
    Boolean,
    String(Length),
    Number(Range),
    Integer(Range),
    Object(Members),
    Array(Items),
    /// No `type`: each part applies to values of its type.
    Untyped(Box<Untyped>),
}

pub(super) struct Untyped {
    range: Range,
    length: Length,
    items: Items,
    members: Members,
}

/// The numeric bounds.
pub(super) struct Range {
    /// Every bound, exactly, for what the floats below cannot decide.
    bounds: Vec<(Bound, Number)>,
    /// The bounds as floats, when every limit is one exactly (the usual
    /// case): `minimum`, `exclusiveMinimum`, `maximum`, `exclusiveMaximum`,
    /// the missing ones infinite.
    floats: Option<[f64; 4]>,
}

/// Least and most characters of a string, or items of an array.
#[derive(Clone, Copy)]
pub(super) struct Length {
    least: u64,
    most: u64,
}

pub(super) struct Items {
    count: Length,
    items: Option<Box<Shape>>,
}

pub(super) struct Members {
    /// Each name with its shape (`Shape::Any` for a required name without
    /// a schema), side by side: one look-up finds both.
    members: Box<[(Name, Shape)]>,
    /// Bit i: member i is required.
    required: u64,
}

impl Shape {
    /// The shape of a node `plain` has already taken (every keyword known).
    pub(super) fn of(schema: &Map<String, Value>) -> Self {
        let kind = schema
            .get("type")
            .and_then(Value::as_str)
            .and_then(Kind::named);
        match kind {
            None => {
                let untyped = Untyped {
                    range: Range::of(schema),
                    length: Length::of(schema, "minLength", "maxLength"),
                    items: Items::of(schema),
                    members: Members::of(schema),
                };
                if untyped.asserts_nothing() {
                    Shape::Any
                } else {
                    Shape::Untyped(Box::new(untyped))
                }
            }
            Some(Kind::Null) => Shape::Null,
            Some(Kind::Boolean) => Shape::Boolean,
            Some(Kind::String) => Shape::String(Length::of(schema, "minLength", "maxLength")),
            Some(Kind::Number) => Shape::Number(Range::of(schema)),
            Some(Kind::Integer) => Shape::Integer(Range::of(schema)),
            Some(Kind::Object) => Shape::Object(Members::of(schema)),
            Some(Kind::Array) => Shape::Array(Items::of(schema)),
        }
    }

    /// Leaves are tested here, in the caller; only objects, arrays and
    /// untyped nodes cost a call.
    #[inline(always)]
    pub(super) fn holds(&self, instance: &Value) -> bool {
        match (self, instance) {
            (Shape::Any, _) | (Shape::Null, Value::Null) | (Shape::Boolean, Value::Bool(_)) => true,
            (Shape::String(length), Value::String(s)) => length.holds_chars(s),
            (Shape::Number(range), Value::Number(n)) => range.holds(n),
            (Shape::Integer(range), Value::Number(n)) => is_integer(n) && range.holds(n),
            (Shape::Object(members), Value::Object(map)) => members.hold(map),
            (Shape::Array(items), Value::Array(values)) => items.hold(values),
            (Shape::Untyped(untyped), _) => untyped.holds(instance),
            _ => false,
        }
    }
}

impl Untyped {
    fn asserts_nothing(&self) -> bool {
        self.range.bounds.is_empty()
            && self.length.is_any()
            && self.items.count.is_any()
            && self.items.items.is_none()
            && self.members.members.is_empty()
    }

    #[inline(never)]
    fn holds(&self, instance: &Value) -> bool {
        match instance {
            Value::Number(n) => self.range.holds(n),
            Value::String(s) => self.length.holds_chars(s),
            Value::Array(values) => self.items.hold(values),
            Value::Object(map) => self.members.hold(map),
            _ => true,
        }
    }
}

impl Range {
    fn of(schema: &Map<String, Value>) -> Self {
        let mut bounds = Vec::new();
        let mut floats = [
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::INFINITY,
        ];
        let mut exact = true;
        let keywords = [
            ("minimum", Bound::Minimum),
            ("exclusiveMinimum", Bound::ExclusiveMinimum),
            ("maximum", Bound::Maximum),
            ("exclusiveMaximum", Bound::ExclusiveMaximum),
        ];
        for (slot, (keyword, bound)) in keywords.into_iter().enumerate() {
            if let Some(Value::Number(limit)) = schema.get(keyword) {
                bounds.push((bound, limit.clone()));
                match as_exact_float(limit) {
                    Some(float) => floats[slot] = float,
                    None => exact = false,
                }
            }
        }
        Self {
            bounds,
            floats: exact.then_some(floats),
        }
    }

    #[inline(always)]
    fn holds(&self, n: &Number) -> bool {
        match (&self.floats, as_exact_float(n)) {
            (Some([least, above, most, below]), Some(x)) => {
                x >= *least && x > *above && x <= *most && x < *below
            }
            _ => self.holds_exactly(n),
        }
    }

    /// An integer beyond 2^53, in the instance or a limit.
    #[cold]
    #[inline(never)]
    fn holds_exactly(&self, n: &Number) -> bool {
        self.bounds
            .iter()
            .all(|(bound, limit)| bound.holds(n, limit))
    }
}

impl Length {
    fn of(schema: &Map<String, Value>, least: &str, most: &str) -> Self {
        let limit = |keyword| schema.get(keyword).and_then(Value::as_u64);
        Self {
            least: limit(least).unwrap_or(0),
            most: limit(most).unwrap_or(u64::MAX),
        }
    }

    fn is_any(self) -> bool {
        self.least == 0 && self.most == u64::MAX
    }

    #[inline(always)]
    fn holds(self, size: u64) -> bool {
        self.least <= size && size <= self.most
    }

    /// A string has at most one character per byte and at least one per
    /// four: most strings are decided by their byte length, uncounted.
    #[inline(always)]
    fn holds_chars(self, s: &str) -> bool {
        let bytes = s.len() as u64;
        let enough =
            bytes >= self.least.saturating_mul(4) || (self.least <= 1 && bytes >= self.least);
        if enough && bytes <= self.most {
            return true;
        }
        self.holds_counted(s)
    }

    /// Out of the way of the usual strings, decided by their bytes.
    #[cold]
    #[inline(never)]
    fn holds_counted(self, s: &str) -> bool {
        self.holds(s.chars().count() as u64)
    }
}

impl Items {
    fn of(schema: &Map<String, Value>) -> Self {
        Self {
            count: Length::of(schema, "minItems", "maxItems"),
            items: schema
                .get("items")
                .and_then(Value::as_object)
                .map(|items| Box::new(Shape::of(items))),
        }
    }

    #[inline(never)]
    fn hold(&self, values: &[Value]) -> bool {
        self.count.holds(values.len() as u64)
            && self
                .items
                .as_ref()
                .is_none_or(|shape| values.iter().all(|value| shape.holds(value)))
    }
}

impl Members {
    fn of(schema: &Map<String, Value>) -> Self {
        let mut members: Vec<(&str, Option<&Map<String, Value>>)> = Vec::new();
        let mut required = 0u64;
        // Both keywords may come in either order; a name gets one place.
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                let index = place(&mut members, name);
                members[index].1 = property.as_object();
            }
        }
        if let Some(Value::Array(names)) = schema.get("required") {
            for name in names.iter().filter_map(Value::as_str) {
                required |= 1u64 << place(&mut members, name);
            }
        }
        Self {
            members: members
                .iter()
                .map(|(name, schema)| (Name::of(name), schema.map_or(Shape::Any, Shape::of)))
                .collect(),
            required,
        }
    }

    #[inline(never)]
    fn hold(&self, map: &Map<String, Value>) -> bool {
        if self.members.is_empty() {
            return true;
        }
        // Instances are mostly written in the schema's order: each key is
        // compared with the name after the last one found. The first key
        // that is not (out of order, after an optional member left out, or
        // not in the schema) sends the rest of the object to the search.
        let mut next = 0;
        for (key, value) in map {
            match self.members.get(next) {
                Some((name, shape)) if name.is_probed(Key::of(key), key) => {
                    if !shape.holds(value) {
                        return false;
                    }
                    next += 1;
                }
                _ => {
                    out_of_order();
                    return self.hold_searched(map, next);
                }
            }
        }
        found_first(next) & self.required == self.required
    }

    /// The rest of an object whose keys left the schema's order at entry
    /// `next` (the first `next` members were found in order): each key is
    /// searched for among the names after the last one found, then among
    /// those before it. Out of line, so the walk in order stays small.
    #[inline(never)]
    fn hold_searched(&self, map: &Map<String, Value>, mut next: usize) -> bool {
        let mut seen = found_first(next);
        for (key, value) in map.iter().skip(next) {
            let probe = Key::of(key);
            let is_key = |(name, _): &(Name, Shape)| name.is_probed(probe, key);
            let (before, after) = self.members.split_at(next.min(self.members.len()));
            let index = match after.iter().position(is_key) {
                Some(index) => next + index,
                None => match before.iter().position(is_key) {
                    Some(index) => index,
                    None => continue,
                },
            };
            if !self.members[index].1.holds(value) {
                return false;
            }
            seen |= 1 << index;
            next = index + 1;
        }
        seen & self.required == self.required
    }
}

/// The bits of the first `count` members.
fn found_first(count: usize) -> u64 {
    u64::MAX
        .checked_shl(count as u32)
        .map_or(u64::MAX, |unseen| !unseen)
}

/// Marks the branch that calls it as the unlikely one, so the walk in
/// order is laid out straight; the search itself stays fully optimised.
#[cold]
#[inline(always)]
fn out_of_order() {}

/// A name's place among the members, added at the end when new.
fn place<'s>(members: &mut Vec<(&'s str, Option<&'s Map<String, Value>>)>, name: &'s str) -> usize {
    match members.iter().position(|(known, _)| *known == name) {
        Some(index) => index,
        None => {
            members.push((name, None));
            members.len() - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(schema: Value) -> Shape {
        Shape::of(schema.as_object().unwrap())
    }

    /// Each way an object can leave the walk in order (a stray key, an
    /// optional member left out, keys out of order), at its start, middle
    /// and end: the members found before the switch still count as found,
    /// and every member found after it is still checked.
    #[test]
    fn an_object_is_held_the_same_in_order_or_searched() {
        let members = shape(json!({
            "type": "object",
            "properties": { "a": { "type": "integer" }, "b": { "type": "string" }, "c": { "type": "boolean" } },
            "required": ["a", "c"]
        }));
        let cases = [
            (json!({ "a": 1, "b": "x", "c": true }), true),
            (json!({ "a": "1", "b": "x", "c": true }), false),
            (json!({ "a": 1, "b": "x", "c": 1 }), false),
            (json!({ "a": 1, "c": true }), true),
            (json!({ "a": 1, "c": 1 }), false),
            (json!({ "z": 0, "a": 1, "b": "x", "c": true }), true),
            (json!({ "z": 0, "a": "1", "b": "x", "c": true }), false),
            (json!({ "a": 1, "z": 0, "c": true }), true),
            (json!({ "a": 1, "z": 0, "b": "x" }), false),
            (json!({ "a": 1, "b": "x", "c": true, "z": 0 }), true),
            (json!({ "a": 1, "b": "x", "z": 0 }), false),
            (json!({ "c": true, "a": 1 }), true),
            (json!({ "c": true, "b": "x" }), false),
            (json!({ "b": "x", "c": true, "a": 2.5 }), false),
            (json!({}), false),
        ];
        for (instance, holds) in cases {
            assert_eq!(members.holds(&instance), holds, "{instance}");
        }
    }

    /// The 64th member's bit, in order and after the switch to the search.
    #[test]
    fn sixty_four_members_are_counted_in_order_and_searched() {
        let names: Vec<String> = (0..64).map(|i| format!("m{i}")).collect();
        let members = shape(json!({ "type": "object", "required": names }));
        let object = |names: &[&String], stray: bool| {
            let mut map: Map<String, Value> =
                names.iter().map(|n| ((*n).clone(), json!(1))).collect();
            if stray {
                map.insert("zz".to_owned(), json!(1));
            }
            Value::Object(map)
        };
        let all: Vec<&String> = names.iter().collect();
        assert!(members.holds(&object(&all, false)));
        assert!(members.holds(&object(&all, true)));
        let mut swapped = all.clone();
        swapped.swap(62, 63);
        assert!(members.holds(&object(&swapped, false)));
        assert!(!members.holds(&object(&all[..63], true)));
        assert!(!members.holds(&object(&all[1..], false)));
    }
}
