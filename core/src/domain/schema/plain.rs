//! A second validator, for the plain schemas most definitions are written in:
//! one `type` name, `properties`, `required`, `items` as one schema, the
//! numeric bounds, `minLength`/`maxLength`, `minItems`/`maxItems`, and
//! annotations. It exists for speed: a general validator (the `jsonschema`
//! crate tel used, and tel's own `general` since) looks up each property by
//! hash and builds its report through several layers, which made tel 2.7×
//! slower than ajv on a valid order and 10× on an invalid one. Here small objects are scanned in order,
//! schema paths and quoted names are built once, and a report is one pass.
//!
//! It must agree with the `jsonschema` crate (the tests' reference) exactly
//! (verdict, instance path, schema path, message, and their order), so a
//! schema with any other keyword, a `$schema` other than 2020-12, or a
//! keyword in a form it does not take is left to the general validator.
//! `agreement_tests` holds it to that on random schemas and instances.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write;

use serde_json::{Map, Number, Value};

use super::names::{Key, Name};
use super::shape::{MOST_MEMBERS, Shape};
use super::values::{Bound, Kind};
use super::{SchemaViolation, pointer_escape};

/// A plain schema, compiled; `None` from `compile` for any other.
pub(super) struct PlainSchema {
    /// For the verdict.
    shape: Shape,
    /// For the report, keyword by keyword in the schema's order.
    root: Node,
}

#[derive(Default)]
struct Node {
    checks: Vec<Check>,
}

struct Check {
    rule: Rule,
    /// JSON pointer to the keyword, as the crate reports it.
    schema_path: String,
    /// What the message says after the instance, written once here: e.g.
    /// ` is less than the minimum of 0`.
    tail: String,
}

enum Rule {
    Type(Kind),
    Bound(Bound, Number),
    /// `minLength` (true) or `maxLength`, in characters.
    Length(bool, u64),
    /// `minItems` (true) or `maxItems`.
    Count(bool, u64),
    Items(Box<Node>),
    Properties(Vec<Property>),
    /// Each name with its message, `"name" is a required property`.
    Required(Vec<(Name, String)>),
}

/// One of `properties`: its name, and the step to it in a pointer (`/`
/// and the name escaped), written once here.
struct Property {
    name: Name,
    step: Box<str>,
    node: Node,
}

/// Keywords that assert nothing; the crate keeps them as annotations.
const ANNOTATIONS: [&str; 8] = [
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
];

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

impl PlainSchema {
    /// The schema, if every keyword in it is one this validator takes.
    pub(super) fn compile(schema: &Value) -> Option<Self> {
        let Value::Object(root) = schema else {
            return None;
        };
        let mut root = root.clone();
        match root.remove("$schema") {
            None => {}
            Some(Value::String(draft)) if draft == DRAFT_2020_12 => {}
            Some(_) => return None,
        }
        Some(Self {
            root: compile_node(&root, "")?,
            shape: Shape::of(&root),
        })
    }

    pub(super) fn is_valid(&self, instance: &Value) -> bool {
        self.shape.holds(instance)
    }

    pub(super) fn violations(&self, instance: &Value) -> Vec<SchemaViolation<'_>> {
        let mut out = Vec::new();
        if self.is_valid(instance) {
            return out;
        }
        POINTER.with_borrow_mut(|at| {
            at.clear();
            self.root.report(instance, at, &mut out);
            // A pointer past this (a schema nested deep, or long names) is
            // not kept for the reports after it.
            if at.capacity() > KEPT_POINTER {
                *at = String::new();
            }
        });
        out
    }
}

fn compile_node(schema: &Map<String, Value>, at: &str) -> Option<Node> {
    let names = |keyword| {
        schema
            .get(keyword)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    if names("required") + properties.map_or(0, Map::len) > MOST_MEMBERS {
        return None;
    }
    let mut checks = Vec::with_capacity(schema.len());
    for (keyword, value) in schema {
        let schema_path = format!("{at}/{keyword}");
        let rule = match (keyword.as_str(), value) {
            ("type", Value::String(name)) => Rule::Type(Kind::named(name)?),
            ("minimum", Value::Number(n)) => Rule::Bound(Bound::Minimum, n.clone()),
            ("maximum", Value::Number(n)) => Rule::Bound(Bound::Maximum, n.clone()),
            ("exclusiveMinimum", Value::Number(n)) => {
                Rule::Bound(Bound::ExclusiveMinimum, n.clone())
            }
            ("exclusiveMaximum", Value::Number(n)) => {
                Rule::Bound(Bound::ExclusiveMaximum, n.clone())
            }
            ("minLength", Value::Number(n)) => Rule::Length(true, n.as_u64()?),
            ("maxLength", Value::Number(n)) => Rule::Length(false, n.as_u64()?),
            ("minItems", Value::Number(n)) => Rule::Count(true, n.as_u64()?),
            ("maxItems", Value::Number(n)) => Rule::Count(false, n.as_u64()?),
            ("items", Value::Object(items)) => {
                Rule::Items(Box::new(compile_node(items, &schema_path)?))
            }
            ("properties", Value::Object(properties)) => {
                let mut compiled = Vec::with_capacity(properties.len());
                for (name, property) in properties {
                    let Value::Object(property) = property else {
                        return None;
                    };
                    let step = format!("/{}", pointer_escape(name));
                    compiled.push(Property {
                        name: Name::of(name),
                        node: compile_node(property, &format!("{schema_path}{step}"))?,
                        step: step.into(),
                    });
                }
                Rule::Properties(compiled)
            }
            ("required", Value::Array(names)) => {
                let mut required = Vec::with_capacity(names.len());
                for name in names {
                    let Value::String(text) = name else {
                        return None;
                    };
                    required.push((Name::of(text), format!("{name} is a required property")));
                }
                Rule::Required(required)
            }
            (keyword, _) if ANNOTATIONS.contains(&keyword) => continue,
            _ => return None,
        };
        let tail = rule.tail();
        checks.push(Check {
            rule,
            schema_path,
            tail,
        });
    }
    // The crate reports a node's keywords in its own order, not the schema's.
    let fused = matches!(schema.get("type"), Some(Value::String(t)) if t == "array")
        && matches!(schema.get("items"), Some(Value::Object(_)));
    checks.sort_by_key(|check| check.rule.priority(fused));
    Some(Node { checks })
}

thread_local! {
    /// The JSON pointer to where a report's walk is: a step in is pushed, a
    /// step out cut off, so each violation copies it whole. One string per
    /// thread, kept between reports: rebuilding each violation's pointer
    /// from a chain of steps was a fifth of a report, and a string of its
    /// own per report an allocation more.
    static POINTER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Bytes of the thread's pointer kept between reports.
const KEPT_POINTER: usize = 1024;

/// The pointer, in a string with room for `more` bytes after it.
fn copied(at: &str, more: usize) -> String {
    let mut out = String::with_capacity(at.len() + more);
    out.push_str(at);
    out
}

impl Property {
    fn report<'s>(&'s self, value: &Value, at: &mut String, out: &mut Vec<SchemaViolation<'s>>) {
        let len = at.len();
        at.push_str(&self.step);
        self.node.report(value, at, out);
        at.truncate(len);
    }
}

impl Node {
    fn report<'s>(&'s self, instance: &Value, at: &mut String, out: &mut Vec<SchemaViolation<'s>>) {
        for check in &self.checks {
            check.report(instance, at, out);
        }
    }
}

impl Rule {
    /// The crate's message for a value this rule does not hold for, after
    /// the value itself.
    fn tail(&self) -> String {
        match self {
            Rule::Type(kind) => format!(r#" is not of type "{}""#, kind.name()),
            Rule::Bound(bound, limit) => format!(" {} {limit}", bound.phrase()),
            Rule::Length(least, limit) => format!(
                " is {} than {limit} character{}",
                if *least { "shorter" } else { "longer" },
                plural(*limit)
            ),
            Rule::Count(least, limit) => format!(
                " has {} than {limit} item{}",
                if *least { "less" } else { "more" },
                plural(*limit)
            ),
            Rule::Items(_) | Rule::Properties(_) | Rule::Required(_) => String::new(),
        }
    }

    /// Where the crate reports this rule among a node's keywords (its
    /// `keyword_priority`, tenfold). With `type: "array"` and one `items`
    /// schema the crate checks `type`, `minItems` and `maxItems` inside
    /// `items`, so their errors come at its place, in that order.
    fn priority(&self, fused: bool) -> u16 {
        match self {
            Rule::Type(_) if fused => 440,
            Rule::Count(true, _) if fused => 441,
            Rule::Count(false, _) if fused => 442,
            Rule::Items(_) => 443,
            Rule::Type(_) => 10,
            Rule::Bound(Bound::Minimum, _) => 100,
            Rule::Bound(Bound::Maximum, _) => 110,
            Rule::Bound(Bound::ExclusiveMinimum, _) => 120,
            Rule::Bound(Bound::ExclusiveMaximum, _) => 130,
            Rule::Length(true, _) => 200,
            Rule::Length(false, _) => 210,
            Rule::Count(true, _) => 220,
            Rule::Count(false, _) => 230,
            Rule::Required(_) => 260,
            Rule::Properties(_) => 400,
        }
    }

    /// Whether a one-value rule (type, bound, length, count) holds.
    fn holds(&self, instance: &Value) -> bool {
        match (self, instance) {
            (Rule::Type(kind), _) => kind.holds(instance),
            (Rule::Bound(bound, limit), Value::Number(n)) => bound.holds(n, limit),
            (Rule::Length(least, limit), Value::String(s)) => {
                within(s.chars().count() as u64, *least, *limit)
            }
            (Rule::Count(least, limit), Value::Array(items)) => {
                within(items.len() as u64, *least, *limit)
            }
            _ => true,
        }
    }
}

impl Check {
    fn report<'s>(&'s self, instance: &Value, at: &mut String, out: &mut Vec<SchemaViolation<'s>>) {
        match (&self.rule, instance) {
            (Rule::Items(node), Value::Array(items)) => {
                let len = at.len();
                for (index, item) in items.iter().enumerate() {
                    at.push('/');
                    at.push_str(itoa::Buffer::new().format(index));
                    node.report(item, at, out);
                    at.truncate(len);
                }
            }
            (Rule::Properties(properties), Value::Object(map)) => {
                // The crate walks the instance's members when there are few
                // of them for the properties, or many properties (its
                // hash-map form); otherwise the properties, in schema order.
                if properties.len() >= 15 || map.len() <= properties.len() * 4 {
                    for (key, value) in map {
                        let probe = Key::of(key);
                        if let Some(property) = properties
                            .iter()
                            .find(|property| property.name.is_probed(probe, key))
                        {
                            property.report(value, at, out);
                        }
                    }
                } else {
                    for property in properties {
                        if let Some(value) = member(map, &property.name) {
                            property.report(value, at, out);
                        }
                    }
                }
            }
            (Rule::Required(names), Value::Object(map)) => {
                for (name, message) in names {
                    if member(map, name).is_none() {
                        let text = copied(at, 0);
                        let path_end = text.len();
                        out.push(self.violation(text, path_end, Some(message), Some(name.text())));
                    }
                }
            }
            (rule, _) if !rule.holds(instance) => self.violated(instance, at, out),
            _ => {}
        }
    }

    /// Out of line: inlined, writing the message gave every node's walk a
    /// large frame to set up, violations or not.
    #[inline(never)]
    fn violated<'s>(&'s self, instance: &Value, at: &str, out: &mut Vec<SchemaViolation<'s>>) {
        // The message goes after the pointer, in the same string.
        let mut text = copied(at, self.tail.len() + 16);
        let path_end = text.len();
        self.write_message(instance, &mut text);
        out.push(self.violation(text, path_end, None, None));
    }

    /// A violation of this check: `text` is the pointer (its first
    /// `path_end` bytes), then the message unless the schema `written` it.
    fn violation<'s>(
        &'s self,
        text: String,
        path_end: usize,
        written: Option<&'s str>,
        missing: Option<&'s str>,
    ) -> SchemaViolation<'s> {
        SchemaViolation {
            text,
            path_end,
            written,
            schema_path: Cow::Borrowed(&self.schema_path),
            missing: missing.map(Cow::Borrowed),
        }
    }

    /// The crate's message: the instance as JSON, then the tail.
    fn write_message(&self, instance: &Value, message: &mut String) {
        match instance {
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(whole), _) => message.push_str(itoa::Buffer::new().format(whole)),
                (_, Some(whole)) => message.push_str(itoa::Buffer::new().format(whole)),
                _ => {
                    let _ = write!(message, "{n}");
                }
            },
            Value::String(s) if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
                message.push('"');
                message.push_str(s);
                message.push('"');
            }
            _ => {
                let _ = write!(message, "{instance}");
            }
        }
        message.push_str(&self.tail);
    }
}

fn plural(limit: u64) -> &'static str {
    if limit == 1 { "" } else { "s" }
}

fn within(size: u64, least: bool, limit: u64) -> bool {
    if least { size >= limit } else { size <= limit }
}

/// A member by name. Task inputs are small objects: a scan of their entries
/// in order is quicker than hashing the name, until they grow.
fn member<'v>(map: &'v Map<String, Value>, name: &Name) -> Option<&'v Value> {
    if map.len() <= 16 {
        map.iter()
            .find(|(key, _)| name.is(key))
            .map(|(_, value)| value)
    } else {
        map.get(name.text())
    }
}
