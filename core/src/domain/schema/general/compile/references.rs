//! The keywords that point elsewhere: `$ref`, and the dynamic `$dynamicRef`
//! (2020-12) and `$recursiveRef` (2019-09), whose target depends on where
//! the walk came from.

use serde_json::Value;

use super::{Compiled, Compiler, Rule, Site};
use crate::domain::schema::general::draft::Draft;

impl Compiler {
    pub(super) fn reference(&mut self, site: &Site) -> Result<Option<Compiled>, String> {
        let Value::String(reference) = site.value else {
            return Ok(None);
        };
        let rule = match site.keyword {
            "$ref" => {
                let target = self.index.resolve(site.place.resource, reference)?;
                match self.node(target.doc, target.pointer) {
                    // A schema's reference to itself adds nothing.
                    target if target == site.id => return Ok(Some(Compiled::Nothing)),
                    target => Rule::Ref(target),
                }
            }
            "$dynamicRef" if site.draft() == Draft::Draft202012 => {
                let target = self.index.resolve(site.place.resource, reference)?;
                let dynamic = target
                    .anchor
                    .clone()
                    .filter(|name| self.index.resources[target.resource].dynamic.contains(name));
                let initial = self.node(target.doc, target.pointer);
                match dynamic {
                    Some(name) => self.dynamic_rule(site, initial, Some(name)),
                    None => Rule::Ref(initial),
                }
            }
            "$recursiveRef" if site.draft() == Draft::Draft201909 => {
                let target = self.index.resolve(site.place.resource, reference)?;
                let recursive = self.index.resources[target.resource].recursive;
                let initial = self.node(target.doc, target.pointer);
                if recursive {
                    self.dynamic_rule(site, initial, None)
                } else {
                    Rule::Ref(initial)
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(Compiled::Rule(rule)))
    }

    /// A dynamic reference, its candidates filled in once every resource
    /// is known (`Compiler::root`).
    fn dynamic_rule(&mut self, site: &Site, initial: usize, anchor: Option<String>) -> Rule {
        self.dynamic.push((site.id, site.slot, anchor));
        Rule::Dynamic {
            initial,
            candidates: Vec::new(),
        }
    }
}
