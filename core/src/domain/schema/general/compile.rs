//! A schema compiled to an arena of nodes, one per subschema, each a list
//! of rules in the order they are checked. A `$ref` is a node's id, so a
//! recursive schema is a cycle in the arena, compiled once.

mod applicators;
mod assertions;
mod references;

use std::collections::HashMap;

use regex_lite::Regex;
use serde_json::{Map, Number, Value};

use super::draft::Draft;
use super::formats::Format;
use super::index::{Index, Place};
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

    /// A node's rules, keyword by keyword, each compiled by its
    /// vocabulary: references, assertions, applicators.
    fn keywords(
        &mut self,
        id: NodeId,
        doc: usize,
        pointer: &str,
        place: Place,
        map: &Map<String, Value>,
    ) -> Result<Vec<Keyword>, String> {
        let mut out = Vec::new();
        let mut last = Vec::new();
        for (keyword, value) in map {
            if place.draft.ref_overrides() && map.contains_key("$ref") && keyword != "$ref" {
                continue;
            }
            let site = Site {
                id,
                doc,
                pointer,
                place,
                map,
                keyword,
                value,
                at: format!("{pointer}/{}", pointer_escape(keyword)),
                slot: out.len(),
            };
            let compiled = if let Some(compiled) = self.reference(&site)? {
                compiled
            } else if let Some(compiled) = assertions::compile(&site)? {
                compiled
            } else if let Some(compiled) = self.applicator(&site)? {
                compiled
            } else if constrained(place.draft, keyword) {
                // A keyword tel knows, in a form it does not take: the
                // meta-schema refuses it where it checks, and a `$ref` into
                // what it does not check (an unknown keyword) lands here.
                return Err(site.malformed());
            } else {
                continue;
            };
            let keyword = |rule| Keyword {
                step: site.at[pointer.len()..].into(),
                rule,
            };
            match compiled {
                Compiled::Rule(rule) => out.push(keyword(rule)),
                Compiled::Pair(first, second) => out.extend([keyword(first), keyword(second)]),
                Compiled::Last(rule) => last.push(keyword(rule)),
                Compiled::Nothing => {}
            }
        }
        // `unevaluated*` see what every other keyword of the node evaluated.
        out.append(&mut last);
        Ok(out)
    }
}

/// A keyword being compiled, and the schema around it.
struct Site<'a> {
    id: NodeId,
    doc: usize,
    /// The schema's pointer in its document.
    pointer: &'a str,
    place: Place,
    /// The schema's members, for the keywords that read their neighbours.
    map: &'a Map<String, Value>,
    keyword: &'a str,
    value: &'a Value,
    /// The keyword's own pointer.
    at: String,
    /// Where its rule will be among the node's keywords.
    slot: usize,
}

impl Site<'_> {
    fn draft(&self) -> Draft {
        self.place.draft
    }

    fn malformed(&self) -> String {
        format!(
            "{} is malformed: {} (at {})",
            self.keyword, self.value, self.pointer
        )
    }
}

/// What a keyword compiles to.
enum Compiled {
    Rule(Rule),
    /// `dependencies`: its lists of names, then its schemas.
    Pair(Rule, Rule),
    /// `unevaluated*`: checked after every other keyword of the node, whose
    /// evaluation it sees.
    Last(Rule),
    /// Known, and asserting nothing here (`uniqueItems: false`, a format
    /// tel does not know, a schema's `$ref` to itself).
    Nothing,
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
