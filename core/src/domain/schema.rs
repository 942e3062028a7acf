//! JSON Schema compilation and validation. Draft 2020-12 unless the schema's
//! `$schema` names another; formats are asserted; remote `$ref`s are never
//! fetched (the crate is built without its HTTP and file resolvers).
//!
//! Plain schemas (see `plain`) are checked by tel's own validator, which
//! agrees with the crate and is quicker; every other schema by the crate.

#[cfg(test)]
mod agreement_tests;
mod plain;
mod shape;
mod values;

use plain::PlainSchema;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One reason an instance does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaViolation {
    /// JSON pointer into the validated instance, e.g. `/items/0/price`.
    pub instance_path: String,
    /// JSON pointer into the schema, e.g. `/properties/items/items/properties/price/minimum`.
    pub schema_path: String,
    pub message: String,
    /// The name of the required property that is missing, if that is the
    /// violation. Not part of stored details.
    #[serde(skip)]
    pub missing: Option<String>,
}

impl SchemaViolation {
    /// The field the violation is about, as a JSON pointer: the instance
    /// path, or for a missing required property that property's path (so a
    /// form can show the error at the field).
    pub fn field(&self) -> String {
        match &self.missing {
            Some(name) => format!("{}/{}", self.instance_path, pointer_escape(name)),
            None => self.instance_path.clone(),
        }
    }
}

/// A schema compiled once and reused for every instance.
pub struct CompiledSchema {
    validator: jsonschema::Validator,
    plain: Option<PlainSchema>,
}

impl CompiledSchema {
    pub fn compile(schema: &Value) -> Result<Self, String> {
        if !schema.is_object() && !schema.is_boolean() {
            return Err("a schema must be a JSON object or a boolean".to_owned());
        }
        jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map(|validator| Self {
                validator,
                plain: PlainSchema::compile(schema),
            })
            .map_err(|e| {
                let at = e.instance_path().as_str();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{e} (at {at})")
                }
            })
    }

    pub fn is_valid(&self, instance: &Value) -> bool {
        match &self.plain {
            Some(plain) => plain.is_valid(instance),
            None => self.validator.is_valid(instance),
        }
    }

    /// Every violation, not just the first. A valid instance (the usual
    /// case) is only checked, never walked for a report.
    pub fn violations(&self, instance: &Value) -> Vec<SchemaViolation> {
        match &self.plain {
            Some(plain) => plain.violations(instance),
            None if self.validator.is_valid(instance) => Vec::new(),
            None => self.general_violations(instance),
        }
    }

    /// The crate's report, for the schemas `plain` does not take.
    fn general_violations(&self, instance: &Value) -> Vec<SchemaViolation> {
        self.validator
            .iter_errors(instance)
            .map(|e| {
                let missing = match e.kind() {
                    jsonschema::error::ValidationErrorKind::Required {
                        property: Value::String(name),
                    } => Some(name.clone()),
                    _ => None,
                };
                SchemaViolation {
                    instance_path: e.instance_path().as_str().to_owned(),
                    schema_path: e.schema_path().as_str().to_owned(),
                    message: e.to_string(),
                    missing,
                }
            })
            .collect()
    }
}

/// A name as one JSON pointer token (RFC 6901).
fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_violation_with_paths() {
        let schema = CompiledSchema::compile(&json!({
            "type": "object",
            "required": ["a", "b"],
            "properties": { "a": { "type": "integer", "minimum": 1 }, "c": { "type": "string" } }
        }))
        .unwrap();
        let mut violations = schema.violations(&json!({ "a": 0, "c": 5 }));
        violations.sort_by(|x, y| x.instance_path.cmp(&y.instance_path));
        assert_eq!(violations.len(), 3, "{violations:?}");
        assert_eq!(violations[0].instance_path, "");
        assert_eq!(violations[1].instance_path, "/a");
        assert_eq!(violations[1].schema_path, "/properties/a/minimum");
        assert_eq!(violations[2].instance_path, "/c");
        // A missing property is reported at the object, and belongs to the field.
        let missing: Vec<String> = violations[..1].iter().map(SchemaViolation::field).collect();
        assert_eq!(missing, ["/b"]);
        assert_eq!(violations[1].field(), "/a");
    }

    #[test]
    fn formats_are_asserted() {
        let schema =
            CompiledSchema::compile(&json!({ "type": "string", "format": "email" })).unwrap();
        assert!(schema.is_valid(&json!("a@example.com")));
        assert!(!schema.is_valid(&json!("not an email")));
    }

    #[test]
    fn dollar_schema_selects_the_draft() {
        // Draft 4 reads exclusiveMaximum as a boolean; 2020-12 rejects a boolean there.
        let draft4 = json!({ "$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": true });
        let schema = CompiledSchema::compile(&draft4).unwrap();
        assert!(!schema.is_valid(&json!(5)));
        assert!(
            CompiledSchema::compile(&json!({ "maximum": 5, "exclusiveMaximum": true })).is_err()
        );
    }

    #[test]
    fn broken_schemas_and_remote_refs_do_not_compile() {
        assert!(CompiledSchema::compile(&json!({ "type": "no-such-type" })).is_err());
        assert!(
            CompiledSchema::compile(&json!({ "$ref": "https://example.com/schema.json" })).is_err()
        );
        assert!(CompiledSchema::compile(&json!(42)).is_err());
    }
}
