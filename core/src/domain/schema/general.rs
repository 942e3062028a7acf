//! tel's general JSON Schema validator: drafts 4, 6, 7, 2019-09 and
//! 2020-12, every keyword (`$ref`, `$dynamicRef`, `$recursiveRef`,
//! `unevaluated*`, conditionals), formats asserted, each schema checked
//! against its draft's meta-schema first. It holds to the official JSON
//! Schema Test Suite (core/tests/json_schema_suite.rs) and to the
//! `jsonschema` crate's verdicts and messages (`agreement_tests`).
//!
//! Why not the crate: it was 2 MB of each function that validates (a
//! third of the validator's, executor's and api's binaries), with two regex
//! engines and a URI library of its own; this is a tenth of that, over the
//! `regex-lite` and `url` every function already links
//! (docs/benchmarks.md, "A JSON Schema validator of tel's own").

mod compile;
mod draft;
mod equal;
mod evaluate;
mod formats;
mod index;
mod pattern;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use serde_json::Value;

use compile::{Compiler, Node, NodeId};
use draft::Draft;
use evaluate::Walk;
use index::Index;

use super::SchemaViolation;

pub(super) struct GeneralSchema {
    nodes: Vec<Node>,
    root: NodeId,
    /// Whether some node has an `unevaluated*` keyword (annotations kept).
    tracks: bool,
    /// Whether `format` is asserted (not for meta-schemas, whose drafts
    /// make it an annotation).
    formats: bool,
}

impl GeneralSchema {
    /// The schema, checked against its draft's meta-schema, compiled.
    pub(super) fn compile(schema: &Value) -> Result<Self, String> {
        Self::build(Self::checked(schema)?, true)
    }

    /// Whether the schema meets its draft's meta-schema: what a schema the
    /// plain validator takes needs, which is never built here.
    pub(super) fn check(schema: &Value) -> Result<(), String> {
        Self::checked(schema).map(drop)
    }

    /// The schema's documents, once it meets its draft's meta-schema.
    fn checked(schema: &Value) -> Result<Index, String> {
        let index = Index::of(schema.clone())?;
        let draft = index.root().draft;
        let metaschema = metaschema(draft);
        if let Some(first) = metaschema.violations(schema).into_iter().next() {
            let at = first.instance_path();
            return Err(if at.is_empty() {
                first.message().to_owned()
            } else {
                format!("{} (at {at})", first.message())
            });
        }
        Ok(index)
    }

    fn build(index: Index, formats: bool) -> Result<Self, String> {
        let mut compiler = Compiler::new(index);
        let root = compiler.root()?;
        Ok(Self {
            nodes: compiler.nodes,
            root,
            tracks: compiler.tracks,
            formats,
        })
    }

    pub(super) fn is_valid(&self, instance: &Value) -> bool {
        Walk::new(&self.nodes, self.formats, self.tracks, false).run(self.root, instance)
    }

    /// Every violation; none for a valid instance.
    pub(super) fn violations(&self, instance: &Value) -> Vec<SchemaViolation<'static>> {
        if self.is_valid(instance) {
            return Vec::new();
        }
        let mut walk = Walk::new(&self.nodes, self.formats, self.tracks, true);
        walk.run(self.root, instance);
        walk.report
    }
}

/// A draft's meta-schema, compiled once per process.
fn metaschema(draft: Draft) -> &'static GeneralSchema {
    static COMPILED: [OnceLock<GeneralSchema>; 5] = [const { OnceLock::new() }; 5];
    let at = Draft::ALL.iter().position(|d| *d == draft).unwrap_or(4);
    COMPILED[at].get_or_init(|| {
        let root = &draft.metaschema()[0];
        let document: Value =
            serde_json::from_str(root.text).expect("embedded meta-schemas are JSON");
        let index = Index::of(document).expect("embedded meta-schemas index");
        GeneralSchema::build(index, false).expect("embedded meta-schemas compile")
    })
}
