//! Checking an instance against a compiled schema: a verdict, or with
//! `reporting` every violation. Annotations (which members and items a
//! node evaluated, for `unevaluated*`) are gathered only when the schema
//! has an `unevaluated*` keyword.

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::{Map, Value};

use super::compile::{Node, NodeId, Rule};
use super::equal::{all_unique, json_equal, multiple_of};
use crate::domain::schema::values::Kind;
use crate::domain::schema::{SchemaViolation, pointer_escape};

/// Nodes entered without leaving. A recursive schema walks a few nodes per
/// level of the instance, so this is an instance nested some hundred
/// levels, past what tel checks (and near what a thread's stack holds).
/// Past it the whole instance is invalid (`Walk::run`), never just the
/// branch: under `not` a failed branch would count as a pass.
const MOST_DEPTH: usize = 400;

/// What a node evaluated of its instance: members by their position in the
/// object, items by index.
#[derive(Default)]
pub(super) struct Seen {
    props: Vec<bool>,
    items: Vec<bool>,
    all_items: bool,
}

impl Seen {
    fn mark(marks: &mut Vec<bool>, at: usize, len: usize) {
        if marks.len() < len {
            marks.resize(len, false);
        }
        marks[at] = true;
    }

    fn merge(&mut self, other: Seen) {
        for (marks, more) in [
            (&mut self.props, other.props),
            (&mut self.items, other.items),
        ] {
            if marks.len() < more.len() {
                marks.resize(more.len(), false);
            }
            for (mark, more) in marks.iter_mut().zip(more) {
                *mark |= more;
            }
        }
        self.all_items |= other.all_items;
    }
}

pub(super) struct Walk<'s> {
    pub(super) nodes: &'s [Node],
    pub(super) formats: bool,
    pub(super) tracks: bool,
    pub(super) reporting: bool,
    pub(super) report: Vec<SchemaViolation<'static>>,
    /// JSON pointer to where the walk is in the instance.
    at: String,
    /// The node and keyword being checked: a violation's schema path.
    node_at: &'s str,
    keyword_at: &'s str,
    /// The resources entered, outermost first: the dynamic scope.
    scope: Vec<usize>,
    /// Whether the walk went past `MOST_DEPTH` somewhere.
    too_deep: bool,
    /// The references followed to here, each with the instance it was
    /// followed for: one followed again for the same instance is a loop
    /// that would check nothing new, and holds (as the crate has it).
    followed: Vec<(*const Rule, *const Value)>,
    depth: usize,
}

impl<'s> Walk<'s> {
    pub(super) fn new(nodes: &'s [Node], formats: bool, tracks: bool, reporting: bool) -> Self {
        Self {
            nodes,
            formats,
            tracks,
            reporting,
            report: Vec::new(),
            at: String::new(),
            node_at: "",
            keyword_at: "",
            scope: Vec::new(),
            too_deep: false,
            followed: Vec::new(),
            depth: 0,
        }
    }

    /// The instance against the node `root`: valid only if it holds and
    /// the walk never went too deep; too deep, one violation says so.
    pub(super) fn run(&mut self, root: NodeId, instance: &Value) -> bool {
        let holds = self.node(root, instance, &mut Seen::default());
        if self.too_deep {
            self.report.clear();
            self.at.clear();
            (self.node_at, self.keyword_at) = ("", "");
            let message = || {
                format!(
                    "the instance is nested deeper than tel checks it ({MOST_DEPTH} schema levels)"
                )
            };
            return self.fail(message, None);
        }
        holds
    }

    pub(super) fn node(&mut self, id: NodeId, instance: &Value, seen: &mut Seen) -> bool {
        if self.depth >= MOST_DEPTH {
            self.too_deep = true;
            return false;
        }
        let node = &self.nodes[id];
        let entered = self.scope.last() != Some(&node.resource);
        if entered {
            self.scope.push(node.resource);
        }
        self.depth += 1;
        let mut valid = true;
        let outer = (self.node_at, self.keyword_at);
        self.node_at = &node.pointer;
        for keyword in &node.keywords {
            self.keyword_at = &keyword.step;
            let holds = self.rule(&keyword.rule, instance, seen);
            if !holds {
                valid = false;
                if !self.reporting {
                    break;
                }
            }
        }
        (self.node_at, self.keyword_at) = outer;
        self.depth -= 1;
        if entered {
            self.scope.pop();
        }
        valid
    }

    /// A subschema applied in place (`$ref`, `allOf`, a conditional's
    /// branch): it sees none of its siblings' annotations, and its own
    /// count when it holds.
    fn in_place(&mut self, id: NodeId, instance: &Value, seen: &mut Seen) -> bool {
        let mut own = Seen::default();
        let holds = self.node(id, instance, &mut own);
        if holds {
            seen.merge(own);
        }
        holds
    }

    /// A reference's target, unless it is already being checked against
    /// this very instance.
    fn follow(&mut self, by: &Rule, id: NodeId, instance: &Value, seen: &mut Seen) -> bool {
        let this = (by as *const Rule, instance as *const Value);
        if self.followed.contains(&this) {
            return true;
        }
        self.followed.push(this);
        let holds = self.in_place(id, instance, seen);
        self.followed.pop();
        holds
    }

    /// A member or item of the instance, one `at` further.
    fn inside(&mut self, at: &str, id: NodeId, value: &Value) -> bool {
        let len = self.at.len();
        self.at.push_str(at);
        let holds = self.node(id, value, &mut Seen::default());
        self.at.truncate(len);
        holds
    }

    /// A verdict only, whatever the walk is doing.
    fn quietly(&mut self, id: NodeId, instance: &Value, seen: &mut Seen) -> bool {
        let reporting = std::mem::replace(&mut self.reporting, false);
        let holds = self.node(id, instance, seen);
        self.reporting = reporting;
        holds
    }

    /// Records a violation here (when reporting); false.
    fn fail(&mut self, message: impl FnOnce() -> String, missing: Option<&str>) -> bool {
        if self.reporting {
            self.report.push(SchemaViolation::new(
                &self.at,
                Cow::Owned(format!("{}{}", self.node_at, self.keyword_at)),
                &message(),
                missing.map(|name| Cow::Owned(name.to_owned())),
            ));
        }
        false
    }

    fn is_false(&self, id: NodeId) -> bool {
        matches!(self.nodes[id].keywords.as_slice(), [only] if matches!(only.rule, Rule::False))
    }

    fn rule(&mut self, rule: &Rule, instance: &Value, seen: &mut Seen) -> bool {
        match (rule, instance) {
            (Rule::False, _) => {
                self.fail(|| format!("False schema does not allow {instance}"), None)
            }
            (Rule::Type(kinds), _) => {
                kinds.iter().any(|kind| kind.holds(instance))
                    || self.fail(|| type_message(instance, kinds), None)
            }
            (Rule::Enum(options), _) => {
                options.iter().any(|option| json_equal(option, instance))
                    || self.fail(|| enum_message(instance, options), None)
            }
            (Rule::Const(expected), _) => {
                json_equal(expected, instance)
                    || self.fail(|| format!("{expected} was expected"), None)
            }
            (Rule::MultipleOf(by), Value::Number(n)) => {
                multiple_of(n, by)
                    || self.fail(
                        || {
                            format!(
                                "{instance} is not a multiple of {}",
                                by.as_f64().unwrap_or_default()
                            )
                        },
                        None,
                    )
            }
            (Rule::Bound(bound, limit), Value::Number(n)) => {
                bound.holds(n, limit)
                    || self.fail(|| format!("{instance} {} {limit}", bound.phrase()), None)
            }
            (Rule::Length(least, limit), Value::String(s)) => {
                let len = s.chars().count() as u64;
                within(len, *least, *limit)
                    || self.fail(
                        || {
                            let side = if *least { "shorter" } else { "longer" };
                            format!(
                                "{instance} is {side} than {limit} character{}",
                                plural(*limit)
                            )
                        },
                        None,
                    )
            }
            (Rule::Pattern(regex, text), Value::String(s)) => {
                regex.is_match(s)
                    || self.fail(|| format!(r#"{instance} does not match "{text}""#), None)
            }
            (Rule::Format(format, name), Value::String(s)) => {
                !self.formats
                    || format.holds(s)
                    || self.fail(|| format!(r#"{instance} is not a "{name}""#), None)
            }
            (Rule::Count(least, limit), Value::Array(items)) => {
                within(items.len() as u64, *least, *limit)
                    || self.fail(
                        || {
                            let side = if *least { "less" } else { "more" };
                            format!("{instance} has {side} than {limit} item{}", plural(*limit))
                        },
                        None,
                    )
            }
            (Rule::Unique, Value::Array(items)) => {
                all_unique(items)
                    || self.fail(|| format!("{instance} has non-unique elements"), None)
            }
            (Rule::Base64, Value::String(s)) => {
                base64_decoded(s).is_some()
                    || self.fail(
                        || format!(r#"{instance} is not compliant with "base64" content encoding"#),
                        None,
                    )
            }
            (Rule::Json { base64 }, Value::String(s)) => {
                let text = if *base64 {
                    base64_decoded(s)
                } else {
                    Some(s.as_bytes().to_vec())
                };
                // Undecodable base64 is `contentEncoding`'s violation, not this.
                text.is_none_or(|text| {
                    serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok()
                }) || self.fail(
                    || format!(r#"{instance} is not compliant with "application/json" media type"#),
                    None,
                )
            }
            (Rule::Size(least, limit), Value::Object(map)) => {
                within(map.len() as u64, *least, *limit)
                    || self.fail(
                        || {
                            let side = if *least { "less" } else { "more" };
                            let noun = if *limit == 1 {
                                "property"
                            } else {
                                "properties"
                            };
                            format!("{instance} has {side} than {limit} {noun}")
                        },
                        None,
                    )
            }
            (Rule::Required(names), Value::Object(map)) => self.required(names, map),
            (Rule::DependentRequired(dependencies), Value::Object(map)) => {
                let mut valid = true;
                for (name, names) in dependencies {
                    if map.contains_key(name) {
                        valid &= self.required(names, map);
                    }
                }
                valid
            }
            (Rule::DependentSchemas(schemas), Value::Object(map)) => {
                let present = schemas.iter().filter(|(name, _)| map.contains_key(name));
                self.every(present, |walk, (_, sub)| {
                    walk.in_place(*sub, instance, seen)
                })
            }
            (Rule::Properties(properties), Value::Object(map)) => self.members(map, seen, |name| {
                properties
                    .iter()
                    .find(|(own, _)| own == name)
                    .map(|(_, sub)| sub)
            }),
            (Rule::PatternProperties(patterns), Value::Object(map)) => {
                let matches = map.iter().enumerate().flat_map(|(at, (name, value))| {
                    patterns
                        .iter()
                        .filter(move |(regex, _)| regex.is_match(name))
                        .map(move |(_, sub)| (at, name, value, *sub))
                });
                self.every(matches, |walk, (at, name, value, sub)| {
                    walk.mark(&mut seen.props, at, map.len());
                    walk.inside(&step_of(name), sub, value)
                })
            }
            (
                Rule::AdditionalProperties {
                    node,
                    known,
                    patterns,
                },
                Value::Object(map),
            ) => {
                let extra = |name: &str| {
                    !known.iter().any(|own| own == name)
                        && !patterns.iter().any(|regex| regex.is_match(name))
                };
                self.additional_members(*node, map, seen, extra)
            }
            (Rule::PropertyNames(node), Value::Object(map)) => {
                if self.is_false(*node) && !map.is_empty() {
                    return self.fail(|| format!("False schema does not allow {instance}"), None);
                }
                self.every(map.keys(), |walk, name| {
                    walk.node(*node, &Value::String(name.clone()), &mut Seen::default())
                })
            }
            (Rule::PrefixItems(subs), Value::Array(items)) => self.every(
                subs.iter().zip(items).enumerate(),
                |walk, (at, (sub, item))| {
                    walk.mark(&mut seen.items, at, items.len());
                    walk.inside(&format!("/{at}"), *sub, item)
                },
            ),
            (
                Rule::Items {
                    node,
                    from,
                    additional,
                },
                Value::Array(items),
            ) => {
                if items.len() <= *from {
                    return true;
                }
                seen.all_items = true;
                if *additional && self.is_false(*node) {
                    return self.fail(|| unexpected_items(&items[*from..]), None);
                }
                self.every(items.iter().enumerate().skip(*from), |walk, (at, item)| {
                    walk.inside(&format!("/{at}"), *node, item)
                })
            }
            (
                Rule::Contains {
                    node,
                    least,
                    most,
                    marks,
                },
                Value::Array(items),
            ) => {
                let mut count = 0;
                for (at, item) in items.iter().enumerate() {
                    if self.quietly(*node, item, &mut Seen::default()) {
                        count += 1;
                        if *marks {
                            self.mark(&mut seen.items, at, items.len());
                        }
                    }
                }
                if count < *least {
                    return self.fail(
                        || match least {
                            1 => format!("None of {instance} are valid under the given schema"),
                            _ => format!("{instance} has less than {least} items valid under the given schema"),
                        },
                        None,
                    );
                }
                match most {
                    Some(most) if count > *most => self.fail(
                        || {
                            format!(
                                "{instance} has more than {most} items valid under the given schema"
                            )
                        },
                        None,
                    ),
                    _ => true,
                }
            }
            (Rule::AllOf(subs), _) => {
                self.every(subs, |walk, sub| walk.in_place(*sub, instance, seen))
            }
            (Rule::AnyOf(subs), _) => {
                let mut any = false;
                for sub in subs {
                    let mut own = Seen::default();
                    if self.quietly(*sub, instance, &mut own) {
                        any = true;
                        seen.merge(own);
                        if !self.tracks {
                            break;
                        }
                    }
                }
                any || self.fail(
                    || format!("{instance} is not valid under any of the schemas listed in the 'anyOf' keyword"),
                    None,
                )
            }
            (Rule::OneOf(subs), _) => {
                let mut first = None;
                for sub in subs {
                    let mut own = Seen::default();
                    if self.quietly(*sub, instance, &mut own) {
                        if first.is_some() {
                            return self.fail(
                                || format!("{instance} is valid under more than one of the schemas listed in the 'oneOf' keyword"),
                                None,
                            );
                        }
                        first = Some(own);
                    }
                }
                match first {
                    Some(own) => {
                        seen.merge(own);
                        true
                    }
                    None => self.fail(
                        || format!("{instance} is not valid under any of the schemas listed in the 'oneOf' keyword"),
                        None,
                    ),
                }
            }
            (Rule::Not(node, text), _) => {
                !self.quietly(*node, instance, &mut Seen::default())
                    || self.fail(|| format!("{text} is not allowed for {instance}"), None)
            }
            (
                Rule::If {
                    test,
                    then,
                    otherwise,
                },
                _,
            ) => {
                let mut own = Seen::default();
                let branch = if self.quietly(*test, instance, &mut own) {
                    seen.merge(own);
                    then
                } else {
                    otherwise
                };
                branch.is_none_or(|branch| self.in_place(branch, instance, seen))
            }
            (Rule::Ref(node), _) => self.follow(rule, *node, instance, seen),
            (
                Rule::Dynamic {
                    initial,
                    candidates,
                },
                _,
            ) => {
                let target = self
                    .scope
                    .iter()
                    .find_map(|resource| candidates.iter().find(|(own, _)| own == resource))
                    .map_or(*initial, |(_, node)| *node);
                self.follow(rule, target, instance, seen)
            }
            (Rule::UnevaluatedProperties(node), Value::Object(map)) => {
                let marks = std::mem::take(&mut seen.props);
                seen.props = vec![true; map.len()];
                // One violation naming every member the schema does not take.
                let refused: Vec<String> = map
                    .iter()
                    .enumerate()
                    .filter(|(at, _)| !marks.get(*at).copied().unwrap_or(false))
                    .filter(|(_, (_, value))| !self.quietly(*node, value, &mut Seen::default()))
                    .map(|(_, (name, _))| format!("'{name}'"))
                    .collect();
                refused.is_empty()
                    || self.fail(|| unexpected_list("Unevaluated properties", &refused), None)
            }
            (Rule::UnevaluatedItems(node), Value::Array(items)) => {
                if seen.all_items {
                    return true;
                }
                let marks = std::mem::take(&mut seen.items);
                seen.all_items = true;
                // One violation naming every item the schema does not take.
                let refused: Vec<String> = items
                    .iter()
                    .enumerate()
                    .filter(|(at, _)| !marks.get(*at).copied().unwrap_or(false))
                    .filter(|(_, item)| !self.quietly(*node, item, &mut Seen::default()))
                    .map(|(_, item)| format!("'{item}'"))
                    .collect();
                refused.is_empty()
                    || self.fail(|| unexpected_list("Unevaluated items", &refused), None)
            }
            _ => true,
        }
    }

    fn required(&mut self, names: &[String], map: &Map<String, Value>) -> bool {
        let missing = names.iter().filter(|name| !map.contains_key(*name));
        self.every(missing, |walk, name| {
            walk.fail(
                || format!("{} is a required property", Value::String(name.clone())),
                Some(name),
            )
        })
    }

    /// `properties`: each member with a schema of its own.
    fn members<'a>(
        &mut self,
        map: &Map<String, Value>,
        seen: &mut Seen,
        schema_of: impl Fn(&str) -> Option<&'a NodeId>,
    ) -> bool {
        let named = map
            .iter()
            .enumerate()
            .filter_map(|(at, (name, value))| Some((at, name, value, *schema_of(name)?)));
        self.every(named, |walk, (at, name, value, sub)| {
            walk.mark(&mut seen.props, at, map.len());
            walk.inside(&step_of(name), sub, value)
        })
    }

    /// `additionalProperties`: the members `extra` picks, checked against
    /// one schema; against `false`, one violation naming them all.
    fn additional_members(
        &mut self,
        node: NodeId,
        map: &Map<String, Value>,
        seen: &mut Seen,
        extra: impl Fn(&str) -> bool,
    ) -> bool {
        let extras: Vec<(usize, &String, &Value)> = map
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| extra(name))
            .map(|(at, (name, value))| (at, name, value))
            .collect();
        for (at, _, _) in &extras {
            self.mark(&mut seen.props, *at, map.len());
        }
        if extras.is_empty() {
            return true;
        }
        if self.is_false(node) {
            let names: Vec<String> = extras
                .iter()
                .map(|(_, name, _)| format!("'{name}'"))
                .collect();
            return self.fail(|| unexpected_list("Additional properties", &names), None);
        }
        self.every(extras, |walk, (_, name, value)| {
            walk.inside(&step_of(name), node, value)
        })
    }

    /// `check` of each item: all of them when reporting, else until one
    /// fails. Whether all held.
    fn every<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut check: impl FnMut(&mut Self, T) -> bool,
    ) -> bool {
        let mut valid = true;
        for item in items {
            valid &= check(self, item);
            if !valid && !self.reporting {
                return false;
            }
        }
        valid
    }

    /// Marks member or item `at` evaluated, when annotations are kept.
    fn mark(&self, marks: &mut Vec<bool>, at: usize, len: usize) {
        if self.tracks {
            Seen::mark(marks, at, len);
        }
    }
}

/// Standard base64 with padding, as `contentEncoding` names it.
fn base64_decoded(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn step_of(name: &str) -> String {
    format!("/{}", pointer_escape(name))
}

fn within(size: u64, least: bool, limit: u64) -> bool {
    if least { size >= limit } else { size <= limit }
}

fn plural(limit: u64) -> &'static str {
    if limit == 1 { "" } else { "s" }
}

fn unexpected_items(items: &[Value]) -> String {
    let names: Vec<String> = items.iter().map(Value::to_string).collect();
    unexpected_list("Additional items", &names)
}

/// `Additional properties are not allowed ('a', 'b' were unexpected)`.
fn unexpected_list(what: &str, names: &[String]) -> String {
    let verb = if names.len() == 1 { "was" } else { "were" };
    format!(
        "{what} are not allowed ({} {verb} unexpected)",
        names.join(", ")
    )
}

fn type_message(instance: &Value, kinds: &[Kind]) -> String {
    match kinds {
        [one] => format!(r#"{instance} is not of type "{}""#, one.name()),
        _ => {
            let names: Vec<String> = kinds
                .iter()
                .map(|kind| format!("\"{}\"", kind.name()))
                .collect();
            format!("{instance} is not of types {}", names.join(", "))
        }
    }
}

/// `x is not one of "a", "b" or "c"`; past three, the first two and a
/// count of the rest.
fn enum_message(instance: &Value, options: &[Value]) -> String {
    let mut out = format!("{instance} is not one of ");
    if options.len() <= 3 {
        for (at, option) in options.iter().enumerate() {
            let _ = match at {
                0 => write!(out, "{option}"),
                _ if at == options.len() - 1 => write!(out, " or {option}"),
                _ => write!(out, ", {option}"),
            };
        }
    } else {
        let _ = write!(
            out,
            "{}, {} or {} other candidates",
            options[0],
            options[1],
            options.len() - 2
        );
    }
    out
}
