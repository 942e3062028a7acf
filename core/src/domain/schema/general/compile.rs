//! A schema compiled to an arena of nodes, one per subschema, each a list
//! of rules in the order they are checked. A `$ref` is a node's id, so a
//! recursive schema is a cycle in the arena, compiled once.

use std::collections::HashMap;

use regex_lite::Regex;
use serde_json::{Map, Number, Value};

use super::draft::Draft;
use super::formats::Format;
use super::index::{Index, Place};
use super::pattern;
use crate::domain::schema::pointer_escape;
use crate::domain::schema::values::{Bound, Kind};

pub(super) type NodeId = usize;

pub(super) struct Node {
    /// Where the node is in its document, as a JSON pointer: a violation's
    /// schema path starts with it.
    pub(super) pointer: Box<str>,
    pub(super) resource: usize,
    pub(super) keywords: Vec<Keyword>,
}

pub(super) struct Keyword {
    /// The keyword as a step of a schema path, e.g. `/minimum`.
    pub(super) step: Box<str>,
    pub(super) rule: Rule,
}

pub(super) enum Rule {
    False,
    Type(Vec<Kind>),
    Enum(Vec<Value>),
    Const(Value),
    MultipleOf(Number),
    Bound(Bound, Number),
    /// `minLength` (true) or `maxLength`.
    Length(bool, u64),
    Pattern(Regex, String),
    Format(Format, String),
    /// `minItems` (true) or `maxItems`.
    Count(bool, u64),
    Unique,
    /// `contentEncoding: "base64"` (drafts 6 and 7).
    Base64,
    /// `contentMediaType: "application/json"` (drafts 6 and 7), of the
    /// decoded string when `contentEncoding` is base64.
    Json {
        base64: bool,
    },
    /// `minProperties` (true) or `maxProperties`.
    Size(bool, u64),
    Required(Vec<String>),
    DependentRequired(Vec<(String, Vec<String>)>),
    DependentSchemas(Vec<(String, NodeId)>),
    Properties(Vec<(String, NodeId)>),
    PatternProperties(Vec<(Regex, NodeId)>),
    AdditionalProperties {
        node: NodeId,
        known: Vec<String>,
        patterns: Vec<Regex>,
    },
    PropertyNames(NodeId),
    PrefixItems(Vec<NodeId>),
    /// One schema for every item from `from` on (`items`, or before
    /// 2020-12 `additionalItems` after an array of `items`).
    Items {
        node: NodeId,
        from: usize,
        /// Before 2020-12, `additionalItems`: against `false`, one
        /// violation naming the items past the array of `items`.
        additional: bool,
    },
    Contains {
        node: NodeId,
        least: u64,
        most: Option<u64>,
        /// Whether the items it matched count as evaluated for
        /// `unevaluatedItems` (2020-12; not in 2019-09).
        marks: bool,
    },
    AllOf(Vec<NodeId>),
    AnyOf(Vec<NodeId>),
    OneOf(Vec<NodeId>),
    /// The subschema, and its JSON for the message.
    Not(NodeId, String),
    If {
        test: NodeId,
        then: Option<NodeId>,
        otherwise: Option<NodeId>,
    },
    Ref(NodeId),
    /// A `$dynamicRef` to a `$dynamicAnchor` (or 2019-09's `$recursiveRef`
    /// to a `$recursiveAnchor`): the outermost resource of the dynamic
    /// scope among `candidates` wins, else `initial`.
    Dynamic {
        initial: NodeId,
        candidates: Vec<(usize, NodeId)>,
    },
    UnevaluatedProperties(NodeId),
    UnevaluatedItems(NodeId),
}

pub(super) struct Compiler {
    pub(super) index: Index,
    pub(super) nodes: Vec<Node>,
    compiled: HashMap<(usize, String), NodeId>,
    /// Dynamic references whose candidates are filled in at the end, when
    /// every resource is known: (node, keyword, anchor name or None for
    /// `$recursiveAnchor`).
    dynamic: Vec<(NodeId, usize, Option<String>)>,
    /// Whether any node has an `unevaluated*` keyword.
    pub(super) tracks: bool,
    /// Nodes given an id but not compiled yet: a subschema or a `$ref`'s
    /// target is queued, not compiled inside its parent, so no schema
    /// (a chain of a thousand `$ref`s) can run compiling out of stack.
    pending: Vec<(NodeId, usize, String)>,
}

impl Compiler {
    pub(super) fn new(index: Index) -> Self {
        Self {
            index,
            nodes: Vec::new(),
            compiled: HashMap::new(),
            dynamic: Vec::new(),
            tracks: false,
            pending: Vec::new(),
        }
    }

    /// Compiles the root and all it references.
    pub(super) fn root(&mut self) -> Result<NodeId, String> {
        let root = self.node(0, String::new());
        self.drain()?;
        // Each pass may compile nodes (and load meta-schemas) that add
        // resources with the same anchors: until nothing changes.
        loop {
            let before = (self.nodes.len(), self.index.resources.len());
            for at in 0..self.dynamic.len() {
                let (node, keyword, name) = self.dynamic[at].clone();
                let mut candidates = Vec::new();
                for resource in 0..self.index.resources.len() {
                    let own = &self.index.resources[resource];
                    let pointer = match &name {
                        Some(name) if own.dynamic.contains(name) => own.anchors[name].clone(),
                        None if own.recursive => own.pointer.clone(),
                        _ => continue,
                    };
                    let doc = own.doc;
                    candidates.push((resource, self.node(doc, pointer)));
                }
                if let Rule::Dynamic {
                    candidates: own, ..
                } = &mut self.nodes[node].keywords[keyword].rule
                {
                    *own = candidates;
                }
            }
            self.drain()?;
            if before == (self.nodes.len(), self.index.resources.len()) {
                return Ok(root);
            }
        }
    }

    /// The id of the node at `pointer`, queued to be compiled if new.
    fn node(&mut self, doc: usize, pointer: String) -> NodeId {
        if let Some(id) = self.compiled.get(&(doc, pointer.clone())) {
            return *id;
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            pointer: pointer.as_str().into(),
            resource: self.index.place(doc, &pointer).resource,
            keywords: Vec::new(),
        });
        self.compiled.insert((doc, pointer.clone()), id);
        self.pending.push((id, doc, pointer));
        id
    }

    /// Compiles every queued node, and those they queue.
    fn drain(&mut self) -> Result<(), String> {
        while let Some((id, doc, pointer)) = self.pending.pop() {
            let place = self.index.place(doc, &pointer);
            let schema = self.index.docs[doc]
                .pointer(&pointer)
                .cloned()
                .unwrap_or(Value::Bool(true));
            self.nodes[id].keywords = match &schema {
                Value::Bool(true) => Vec::new(),
                Value::Bool(false) => vec![Keyword {
                    step: "".into(),
                    rule: Rule::False,
                }],
                Value::Object(map) => self.keywords(id, doc, &pointer, place, map)?,
                other => return Err(format!("{other} is not a schema (at {pointer})")),
            };
        }
        Ok(())
    }

    fn sub(&mut self, doc: usize, pointer: &str, step: String) -> NodeId {
        self.node(doc, format!("{pointer}{step}"))
    }

    fn keywords(
        &mut self,
        id: NodeId,
        doc: usize,
        pointer: &str,
        place: Place,
        map: &Map<String, Value>,
    ) -> Result<Vec<Keyword>, String> {
        let draft = place.draft;
        let mut out = Vec::new();
        let mut last = Vec::new();
        let one = |this: &mut Self, keyword: &str| this.node(doc, format!("{pointer}/{keyword}"));
        for (keyword, value) in map {
            if draft.ref_overrides() && map.contains_key("$ref") && keyword != "$ref" {
                continue;
            }
            let bad = || format!("{keyword} is malformed: {value} (at {pointer})");
            let at = format!("{pointer}/{}", pointer_escape(keyword));
            let rule = match (keyword.as_str(), value) {
                ("$ref", Value::String(reference)) => {
                    let target = self.index.resolve(place.resource, reference)?;
                    match self.node(target.doc, target.pointer) {
                        // A schema's reference to itself adds nothing.
                        target if target == id => continue,
                        target => Rule::Ref(target),
                    }
                }
                ("$dynamicRef", Value::String(reference)) if draft == Draft::Draft202012 => {
                    let target = self.index.resolve(place.resource, reference)?;
                    let dynamic = target.anchor.clone().filter(|name| {
                        self.index.resources[target.resource].dynamic.contains(name)
                    });
                    let initial = self.node(target.doc, target.pointer);
                    match dynamic {
                        Some(name) => {
                            self.dynamic.push((id, out.len(), Some(name)));
                            Rule::Dynamic {
                                initial,
                                candidates: Vec::new(),
                            }
                        }
                        None => Rule::Ref(initial),
                    }
                }
                ("$recursiveRef", Value::String(reference)) if draft == Draft::Draft201909 => {
                    let target = self.index.resolve(place.resource, reference)?;
                    let recursive = self.index.resources[target.resource].recursive;
                    let initial = self.node(target.doc, target.pointer);
                    if recursive {
                        self.dynamic.push((id, out.len(), None));
                        Rule::Dynamic {
                            initial,
                            candidates: Vec::new(),
                        }
                    } else {
                        Rule::Ref(initial)
                    }
                }
                ("type", Value::String(name)) => {
                    Rule::Type(vec![Kind::named(name).ok_or_else(bad)?])
                }
                ("type", Value::Array(names)) => {
                    let mut kinds = names
                        .iter()
                        .map(|name| name.as_str().and_then(Kind::named).ok_or_else(bad))
                        .collect::<Result<Vec<_>, _>>()?;
                    // Named in a message in one order, whatever the schema's.
                    kinds.sort_by_key(|kind| {
                        Kind::ORDER.iter().position(|k| k.name() == kind.name())
                    });
                    Rule::Type(kinds)
                }
                ("enum", Value::Array(options)) => Rule::Enum(options.clone()),
                ("const", value) if draft >= Draft::Draft6 => Rule::Const(value.clone()),
                ("multipleOf", Value::Number(n)) if n.as_f64().is_some_and(|f| f > 0.0) => {
                    Rule::MultipleOf(n.clone())
                }
                ("minimum" | "maximum", Value::Number(n)) => {
                    // Draft 4's `exclusiveMinimum: true` makes `minimum` exclusive.
                    let flag = if keyword == "minimum" {
                        "exclusiveMinimum"
                    } else {
                        "exclusiveMaximum"
                    };
                    let exclusive =
                        draft == Draft::Draft4 && map.get(flag) == Some(&Value::Bool(true));
                    let bound = match (keyword.as_str(), exclusive) {
                        ("minimum", false) => Bound::Minimum,
                        ("minimum", true) => Bound::ExclusiveMinimum,
                        ("maximum", false) => Bound::Maximum,
                        _ => Bound::ExclusiveMaximum,
                    };
                    Rule::Bound(bound, n.clone())
                }
                ("exclusiveMinimum", Value::Number(n)) if draft >= Draft::Draft6 => {
                    Rule::Bound(Bound::ExclusiveMinimum, n.clone())
                }
                ("exclusiveMaximum", Value::Number(n)) if draft >= Draft::Draft6 => {
                    Rule::Bound(Bound::ExclusiveMaximum, n.clone())
                }
                ("minLength", n) => Rule::Length(true, whole(n).ok_or_else(bad)?),
                ("maxLength", n) => Rule::Length(false, whole(n).ok_or_else(bad)?),
                ("minItems", n) => Rule::Count(true, whole(n).ok_or_else(bad)?),
                ("maxItems", n) => Rule::Count(false, whole(n).ok_or_else(bad)?),
                ("minProperties", n) => Rule::Size(true, whole(n).ok_or_else(bad)?),
                ("maxProperties", n) => Rule::Size(false, whole(n).ok_or_else(bad)?),
                ("uniqueItems", Value::Bool(true)) => Rule::Unique,
                ("uniqueItems", Value::Bool(false)) => continue,
                ("contentEncoding", Value::String(encoding))
                    if draft_6_or_7(draft) && encoding == "base64" =>
                {
                    Rule::Base64
                }
                ("contentMediaType", Value::String(media))
                    if draft_6_or_7(draft) && media == "application/json" =>
                {
                    let base64 =
                        map.get("contentEncoding") == Some(&Value::String("base64".into()));
                    Rule::Json { base64 }
                }
                ("pattern", Value::String(text)) => {
                    Rule::Pattern(pattern::compile(text)?, text.clone())
                }
                ("format", Value::String(name)) => match Format::named(name) {
                    Some(format) => Rule::Format(format, name.clone()),
                    None => continue,
                },
                ("required", Value::Array(names)) => {
                    Rule::Required(strings(names).ok_or_else(bad)?)
                }
                ("dependentRequired", Value::Object(entries)) if draft >= Draft::Draft201909 => {
                    Rule::DependentRequired(
                        entries
                            .iter()
                            .map(|(name, names)| {
                                let names =
                                    names.as_array().and_then(|n| strings(n)).ok_or_else(bad)?;
                                Ok((name.clone(), names))
                            })
                            .collect::<Result<_, String>>()?,
                    )
                }
                ("dependencies", Value::Object(entries)) => {
                    // Names (as `dependentRequired`) and schemas (as
                    // `dependentSchemas`) side by side: two rules.
                    let mut names = Vec::new();
                    let mut schemas = Vec::new();
                    for (name, dependency) in entries {
                        match dependency {
                            Value::Array(list) => {
                                names.push((name.clone(), strings(list).ok_or_else(bad)?))
                            }
                            _ => schemas.push((
                                name.clone(),
                                self.sub(doc, &at, format!("/{}", pointer_escape(name))),
                            )),
                        }
                    }
                    out.push(Keyword {
                        step: at[pointer.len()..].into(),
                        rule: Rule::DependentRequired(names),
                    });
                    Rule::DependentSchemas(schemas)
                }
                ("dependentSchemas", Value::Object(entries)) if draft >= Draft::Draft201909 => {
                    Rule::DependentSchemas(self.members(doc, &at, entries))
                }
                ("properties", Value::Object(entries)) => {
                    Rule::Properties(self.members(doc, &at, entries))
                }
                ("patternProperties", Value::Object(entries)) => {
                    let mut out = Vec::new();
                    for (text, _) in entries {
                        out.push((
                            pattern::compile(text)?,
                            self.sub(doc, &at, format!("/{}", pointer_escape(text))),
                        ));
                    }
                    Rule::PatternProperties(out)
                }
                ("additionalProperties", _) => Rule::AdditionalProperties {
                    node: one(self, keyword),
                    known: map
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default(),
                    patterns: map
                        .get("patternProperties")
                        .and_then(Value::as_object)
                        .map(|p| p.keys().map(|text| pattern::compile(text)).collect())
                        .transpose()?
                        .unwrap_or_default(),
                },
                ("propertyNames", _) if draft >= Draft::Draft6 => {
                    Rule::PropertyNames(one(self, keyword))
                }
                ("prefixItems", Value::Array(items)) if draft >= Draft::Draft202012 => {
                    Rule::PrefixItems(self.list(doc, &at, items.len()))
                }
                ("items", Value::Array(items)) if draft <= Draft::Draft201909 => {
                    Rule::PrefixItems(self.list(doc, &at, items.len()))
                }
                ("items", _) => {
                    let from = match (draft, map.get("prefixItems")) {
                        (Draft::Draft202012, Some(Value::Array(prefix))) => prefix.len(),
                        _ => 0,
                    };
                    Rule::Items {
                        node: one(self, keyword),
                        from,
                        additional: false,
                    }
                }
                ("additionalItems", _) if draft <= Draft::Draft201909 => match map.get("items") {
                    Some(Value::Array(items)) => Rule::Items {
                        node: one(self, keyword),
                        from: items.len(),
                        additional: true,
                    },
                    _ => continue,
                },
                ("contains", _) if draft >= Draft::Draft6 => {
                    let bound = |name: &str| {
                        if draft >= Draft::Draft201909 {
                            map.get(name).and_then(whole)
                        } else {
                            None
                        }
                    };
                    Rule::Contains {
                        node: one(self, keyword),
                        least: bound("minContains").unwrap_or(1),
                        most: bound("maxContains"),
                        marks: draft >= Draft::Draft202012,
                    }
                }
                ("allOf", Value::Array(items)) => Rule::AllOf(self.list(doc, &at, items.len())),
                ("anyOf", Value::Array(items)) => Rule::AnyOf(self.list(doc, &at, items.len())),
                ("oneOf", Value::Array(items)) => Rule::OneOf(self.list(doc, &at, items.len())),
                ("not", sub) => Rule::Not(one(self, keyword), sub.to_string()),
                ("if", _) if draft >= Draft::Draft7 => Rule::If {
                    test: one(self, keyword),
                    then: map.contains_key("then").then(|| one(self, "then")),
                    otherwise: map.contains_key("else").then(|| one(self, "else")),
                },
                ("unevaluatedProperties" | "unevaluatedItems", _)
                    if draft >= Draft::Draft201909 =>
                {
                    self.tracks = true;
                    let node = one(self, keyword);
                    let rule = if keyword == "unevaluatedItems" {
                        Rule::UnevaluatedItems(node)
                    } else {
                        Rule::UnevaluatedProperties(node)
                    };
                    last.push(Keyword {
                        step: at[pointer.len()..].into(),
                        rule,
                    });
                    continue;
                }
                // A keyword tel knows, in a form it does not take: the
                // meta-schema refuses it where it checks, and a `$ref` into
                // what it does not check (an unknown keyword) lands here.
                (known, _) if constrained(draft, known) => return Err(bad()),
                _ => continue,
            };
            out.push(Keyword {
                step: at[pointer.len()..].into(),
                rule,
            });
        }
        // `unevaluated*` see what every other keyword of the node evaluated.
        out.append(&mut last);
        Ok(out)
    }

    fn members(
        &mut self,
        doc: usize,
        at: &str,
        entries: &Map<String, Value>,
    ) -> Vec<(String, NodeId)> {
        entries
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    self.sub(doc, at, format!("/{}", pointer_escape(name))),
                )
            })
            .collect()
    }

    fn list(&mut self, doc: usize, at: &str, len: usize) -> Vec<NodeId> {
        (0..len)
            .map(|i| self.sub(doc, at, format!("/{i}")))
            .collect()
    }
}

/// Drafts 6 and 7 assert `contentEncoding` and `contentMediaType` (as the
/// `jsonschema` crate did); 2019-09 made them annotations.
fn draft_6_or_7(draft: Draft) -> bool {
    matches!(draft, Draft::Draft6 | Draft::Draft7)
}

/// Whether `keyword` asserts something under `draft` and takes only some
/// forms, each matched in `Compiler::keywords`: any other is an error.
fn constrained(draft: Draft, keyword: &str) -> bool {
    const ALWAYS: [&str; 24] = [
        "$ref",
        "type",
        "enum",
        "multipleOf",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "uniqueItems",
        "pattern",
        "format",
        "required",
        "dependencies",
        "properties",
        "patternProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ];
    ALWAYS.contains(&keyword) && !(draft == Draft::Draft4 && keyword.starts_with("exclusive"))
        || (draft >= Draft::Draft201909
            && ["dependentRequired", "dependentSchemas"].contains(&keyword))
        || (draft == Draft::Draft202012 && ["prefixItems", "$dynamicRef"].contains(&keyword))
        || (draft == Draft::Draft201909 && keyword == "$recursiveRef")
}

/// A non-negative whole number (`2.0` too, as the drafts allow).
fn whole(value: &Value) -> Option<u64> {
    let n = value.as_number()?;
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    })
}

fn strings(values: &[Value]) -> Option<Vec<String>> {
    values
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}
