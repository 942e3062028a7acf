//! The documents a schema is made of and where each part of them is: its
//! resources (each `$id`, under the base URI it resolves against), their
//! anchors, and for every subschema the resource and draft it belongs to.
//! A `$ref` is resolved against this; nothing is ever fetched. A reference
//! to a meta-schema loads the embedded copy.

use std::collections::HashMap;

use serde_json::{Map, Value};
use url::Url;

use super::draft::Draft;
use crate::domain::schema::pointer_escape;

/// The base URI of a schema without an `$id`: references relative to it
/// stay inside the document.
const DEFAULT_BASE: &str = "json-schema:///";

pub(super) struct Index {
    pub(super) docs: Vec<Value>,
    pub(super) resources: Vec<Resource>,
    by_uri: HashMap<String, usize>,
    places: HashMap<(usize, String), Place>,
}

pub(super) struct Resource {
    pub(super) uri: Url,
    pub(super) doc: usize,
    /// The resource's root in its document.
    pub(super) pointer: String,
    /// `$anchor`s and `$dynamicAnchor`s (and draft 4–7's `"$id": "#name"`),
    /// each to its document pointer.
    pub(super) anchors: HashMap<String, String>,
    /// The names of its `$dynamicAnchor`s.
    pub(super) dynamic: Vec<String>,
    /// Its root says `"$recursiveAnchor": true` (2019-09).
    pub(super) recursive: bool,
}

/// Where a subschema is: the resource it is in, and its draft.
#[derive(Clone, Copy)]
pub(super) struct Place {
    pub(super) resource: usize,
    pub(super) draft: Draft,
}

/// A reference, resolved: the document and pointer of its target.
pub(super) struct Target {
    pub(super) doc: usize,
    pub(super) pointer: String,
    pub(super) resource: usize,
    /// The fragment, when it is an anchor's name.
    pub(super) anchor: Option<String>,
}

impl Index {
    pub(super) fn of(root: Value) -> Result<Self, String> {
        let draft = match root.get("$schema") {
            None => Draft::Draft202012,
            Some(Value::String(uri)) => Draft::named(uri).ok_or_else(|| {
                format!(
                    "$schema {uri:?} is not a draft tel takes (draft 4, 6, 7, 2019-09 or 2020-12)"
                )
            })?,
            Some(other) => return Err(format!("$schema must be a string, not {other}")),
        };
        let mut index = Self {
            docs: Vec::new(),
            resources: Vec::new(),
            by_uri: HashMap::new(),
            places: HashMap::new(),
        };
        let base = Url::parse(DEFAULT_BASE).map_err(|e| e.to_string())?;
        index.add(root, base, draft);
        Ok(index)
    }

    /// The root schema's place.
    pub(super) fn root(&self) -> Place {
        self.places[&(0, String::new())]
    }

    fn add(&mut self, doc: Value, base: Url, draft: Draft) {
        let at = self.docs.len();
        let resource = self.resource(base, at, String::new());
        self.walk(at, &doc, String::new(), resource, draft);
        self.docs.push(doc);
    }

    fn resource(&mut self, mut uri: Url, doc: usize, pointer: String) -> usize {
        uri.set_fragment(None);
        let at = self.resources.len();
        self.by_uri.insert(uri.as_str().to_owned(), at);
        self.resources.push(Resource {
            uri,
            doc,
            pointer,
            anchors: HashMap::new(),
            dynamic: Vec::new(),
            recursive: false,
        });
        at
    }

    fn walk(&mut self, doc: usize, schema: &Value, pointer: String, resource: usize, draft: Draft) {
        let Value::Object(map) = schema else {
            self.places
                .insert((doc, pointer), Place { resource, draft });
            return;
        };
        let mut draft = draft;
        let mut resource = resource;
        let id = map.get(draft.id_keyword()).and_then(Value::as_str);
        // Before 2019-09 a `$ref` voids its siblings, `$id` too.
        let voided = draft.ref_overrides() && map.contains_key("$ref");
        if let (Some(id), false) = (id, voided) {
            if let Some(name) = id.strip_prefix('#').filter(|_| draft <= Draft::Draft7) {
                self.resources[resource]
                    .anchors
                    .insert(name.to_owned(), pointer.clone());
            } else if let Ok(uri) = self.resources[resource].uri.join(id) {
                if let Some(Value::String(named)) = map.get("$schema")
                    && let Some(own) = Draft::named(named)
                {
                    draft = own;
                }
                if pointer.is_empty() && self.resources[resource].pointer.is_empty() {
                    // The document's root: its `$id` names the resource
                    // already made for the document.
                    let mut uri = uri;
                    uri.set_fragment(None);
                    self.by_uri.insert(uri.as_str().to_owned(), resource);
                    self.resources[resource].uri = uri;
                } else {
                    resource = self.resource(uri, doc, pointer.clone());
                }
            }
        }
        if draft >= Draft::Draft201909 {
            if let Some(Value::String(name)) = map.get("$anchor") {
                self.resources[resource]
                    .anchors
                    .insert(name.clone(), pointer.clone());
            }
            if draft == Draft::Draft202012
                && let Some(Value::String(name)) = map.get("$dynamicAnchor")
            {
                let own = &mut self.resources[resource];
                own.anchors.insert(name.clone(), pointer.clone());
                own.dynamic.push(name.clone());
            }
            if draft == Draft::Draft201909
                && map.get("$recursiveAnchor") == Some(&Value::Bool(true))
                && self.resources[resource].pointer == pointer
            {
                self.resources[resource].recursive = true;
            }
        }
        self.places
            .insert((doc, pointer.clone()), Place { resource, draft });
        if voided {
            return;
        }
        for (step, sub) in subschemas(draft, map) {
            self.walk(doc, sub, format!("{pointer}{step}"), resource, draft);
        }
    }

    /// The place of a subschema at `pointer`: where the walk met it, or
    /// for a pointer into what the walk did not enter (an unknown
    /// keyword), the place of the nearest schema above it.
    pub(super) fn place(&self, doc: usize, pointer: &str) -> Place {
        let mut at = pointer;
        loop {
            if let Some(place) = self.places.get(&(doc, at.to_owned())) {
                return *place;
            }
            match at.rfind('/') {
                Some(cut) => at = &at[..cut],
                None => return self.places[&(doc, String::new())],
            }
        }
    }

    /// Resolves `reference` against the base URI of `resource`.
    pub(super) fn resolve(&mut self, resource: usize, reference: &str) -> Result<Target, String> {
        let unresolvable = || {
            format!(
                "$ref {reference:?} does not resolve to a schema in the document (tel never fetches a remote schema)"
            )
        };
        let uri = self.resources[resource]
            .uri
            .join(reference)
            .map_err(|_| unresolvable())?;
        let fragment = uri.fragment().map(percent_decoded).unwrap_or_default();
        let mut bare = uri.clone();
        bare.set_fragment(None);
        let found = match self.by_uri.get(bare.as_str()) {
            Some(found) => *found,
            None => {
                let draft = Draft::embedding(bare.as_str()).ok_or_else(unresolvable)?;
                for embedded in draft.metaschema() {
                    if self.by_uri.contains_key(embedded.uri) {
                        continue;
                    }
                    let doc: Value =
                        serde_json::from_str(embedded.text).map_err(|e| e.to_string())?;
                    let base = Url::parse(embedded.uri).map_err(|e| e.to_string())?;
                    self.add(doc, base, draft);
                }
                *self.by_uri.get(bare.as_str()).ok_or_else(unresolvable)?
            }
        };
        let own = &self.resources[found];
        let (pointer, anchor) = if fragment.is_empty() || fragment.starts_with('/') {
            (format!("{}{fragment}", own.pointer), None)
        } else {
            let pointer = own.anchors.get(&fragment).ok_or_else(unresolvable)?;
            (pointer.clone(), Some(fragment))
        };
        if self.docs[own.doc].pointer(&pointer).is_none() {
            return Err(unresolvable());
        }
        Ok(Target {
            doc: own.doc,
            pointer,
            resource: found,
            anchor,
        })
    }
}

/// The subschemas of a schema object under `draft`, each with its step as
/// a JSON pointer.
fn subschemas(draft: Draft, map: &Map<String, Value>) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (keyword, value) in map {
        let step = format!("/{}", pointer_escape(keyword));
        let one = match keyword.as_str() {
            "additionalProperties" | "not" => true,
            "additionalItems" => draft <= Draft::Draft201909,
            "contains" | "propertyNames" => draft >= Draft::Draft6,
            "if" | "then" | "else" => draft >= Draft::Draft7,
            "unevaluatedItems" | "unevaluatedProperties" | "contentSchema" => {
                draft >= Draft::Draft201909
            }
            "items" => value.is_object() || value.is_boolean(),
            _ => false,
        };
        let list = match keyword.as_str() {
            "allOf" | "anyOf" | "oneOf" => true,
            "prefixItems" => draft >= Draft::Draft202012,
            "items" => value.is_array() && draft <= Draft::Draft201909,
            _ => false,
        };
        let members = match keyword.as_str() {
            "properties" | "patternProperties" | "definitions" => true,
            "$defs" | "dependentSchemas" => draft >= Draft::Draft201909,
            // Replaced by `dependentSchemas` in 2019-09, but still
            // enforced there, as the `jsonschema` crate did.
            "dependencies" => true,
            _ => false,
        };
        if one {
            out.push((step, value));
        } else if let (true, Value::Array(items)) = (list, value) {
            for (i, item) in items.iter().enumerate() {
                out.push((format!("{step}/{i}"), item));
            }
        } else if let (true, Value::Object(entries)) = (members, value) {
            for (name, sub) in entries {
                if sub.is_object() || sub.is_boolean() {
                    out.push((format!("{step}/{}", pointer_escape(name)), sub));
                }
            }
        }
    }
    out
}

/// A URI fragment's percent escapes decoded (a JSON pointer in a `$ref`
/// may write `%25` for `%`).
fn percent_decoded(fragment: &str) -> String {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(hi)), Some(Some(lo))) = (
                bytes.get(i + 1).map(|b| hex(*b)),
                bytes.get(i + 2).map(|b| hex(*b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
