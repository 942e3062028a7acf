//! The keywords that apply subschemas: to members (`properties` and its
//! kin), to items (`items`, `contains` and theirs), to the instance itself
//! (`allOf`, `not`, `if`...), and to what the others left unevaluated.
//! Each subschema is queued as a node of its own.

use serde_json::{Map, Value};

use super::{Compiled, Compiler, NodeId, Rule, Site, strings, whole};
use crate::domain::schema::general::draft::Draft;
use crate::domain::schema::general::pattern;
use crate::domain::schema::pointer_escape;

impl Compiler {
    pub(super) fn applicator(&mut self, site: &Site) -> Result<Option<Compiled>, String> {
        let draft = site.draft();
        let map = site.map;
        let at = site.at.as_str();
        let rule = match (site.keyword, site.value) {
            ("dependencies", Value::Object(entries)) => {
                // Names (as `dependentRequired`) and schemas (as
                // `dependentSchemas`) side by side: two rules.
                let mut names = Vec::new();
                let mut schemas = Vec::new();
                for (name, dependency) in entries {
                    match dependency {
                        Value::Array(list) => names
                            .push((name.clone(), strings(list).ok_or_else(|| site.malformed())?)),
                        _ => schemas.push((name.clone(), self.member(site.doc, at, name))),
                    }
                }
                return Ok(Some(Compiled::Pair(
                    Rule::DependentRequired(names),
                    Rule::DependentSchemas(schemas),
                )));
            }
            ("dependentSchemas", Value::Object(entries)) if draft >= Draft::Draft201909 => {
                Rule::DependentSchemas(self.members(site.doc, at, entries))
            }
            ("properties", Value::Object(entries)) => {
                Rule::Properties(self.members(site.doc, at, entries))
            }
            ("patternProperties", Value::Object(entries)) => {
                let mut out = Vec::new();
                for (text, _) in entries {
                    out.push((pattern::compile(text)?, self.member(site.doc, at, text)));
                }
                Rule::PatternProperties(out)
            }
            ("additionalProperties", _) => Rule::AdditionalProperties {
                node: self.beside(site, site.keyword),
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
                Rule::PropertyNames(self.beside(site, site.keyword))
            }
            ("prefixItems", Value::Array(items)) if draft >= Draft::Draft202012 => {
                Rule::PrefixItems(self.list(site.doc, at, items.len()))
            }
            ("items", Value::Array(items)) if draft <= Draft::Draft201909 => {
                Rule::PrefixItems(self.list(site.doc, at, items.len()))
            }
            ("items", _) => {
                let from = match (draft, map.get("prefixItems")) {
                    (Draft::Draft202012, Some(Value::Array(prefix))) => prefix.len(),
                    _ => 0,
                };
                Rule::Items {
                    node: self.beside(site, site.keyword),
                    from,
                    additional: false,
                }
            }
            ("additionalItems", _) if draft <= Draft::Draft201909 => match map.get("items") {
                Some(Value::Array(items)) => Rule::Items {
                    node: self.beside(site, site.keyword),
                    from: items.len(),
                    additional: true,
                },
                _ => return Ok(Some(Compiled::Nothing)),
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
                    node: self.beside(site, site.keyword),
                    least: bound("minContains").unwrap_or(1),
                    most: bound("maxContains"),
                    marks: draft >= Draft::Draft202012,
                }
            }
            ("allOf", Value::Array(items)) => Rule::AllOf(self.list(site.doc, at, items.len())),
            ("anyOf", Value::Array(items)) => Rule::AnyOf(self.list(site.doc, at, items.len())),
            ("oneOf", Value::Array(items)) => Rule::OneOf(self.list(site.doc, at, items.len())),
            ("not", sub) => Rule::Not(self.beside(site, site.keyword), sub.to_string()),
            ("if", _) if draft >= Draft::Draft7 => Rule::If {
                test: self.beside(site, site.keyword),
                then: map.contains_key("then").then(|| self.beside(site, "then")),
                otherwise: map.contains_key("else").then(|| self.beside(site, "else")),
            },
            ("unevaluatedProperties" | "unevaluatedItems", _) if draft >= Draft::Draft201909 => {
                self.tracks = true;
                let node = self.beside(site, site.keyword);
                return Ok(Some(Compiled::Last(
                    if site.keyword == "unevaluatedItems" {
                        Rule::UnevaluatedItems(node)
                    } else {
                        Rule::UnevaluatedProperties(node)
                    },
                )));
            }
            _ => return Ok(None),
        };
        Ok(Some(Compiled::Rule(rule)))
    }

    /// The subschema that is the value of the schema's member `keyword`.
    fn beside(&mut self, site: &Site, keyword: &str) -> NodeId {
        self.node(site.doc, format!("{}/{keyword}", site.pointer))
    }

    /// The subschema under `name` of the object at `at`.
    fn member(&mut self, doc: usize, at: &str, name: &str) -> NodeId {
        self.node(doc, format!("{at}/{}", pointer_escape(name)))
    }

    fn members(
        &mut self,
        doc: usize,
        at: &str,
        entries: &Map<String, Value>,
    ) -> Vec<(String, NodeId)> {
        entries
            .keys()
            .map(|name| (name.clone(), self.member(doc, at, name)))
            .collect()
    }

    fn list(&mut self, doc: usize, at: &str, len: usize) -> Vec<NodeId> {
        (0..len)
            .map(|i| self.node(doc, format!("{at}/{i}")))
            .collect()
    }
}
