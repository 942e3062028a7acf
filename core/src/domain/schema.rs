//! JSON Schema compilation and validation. Draft 2020-12 unless the schema's
//! `$schema` names another; formats are asserted; remote `$ref`s are never
//! fetched.
//!
//! Plain schemas (see `plain`) are checked by a validator made for them,
//! the quickest; every other schema by the general one (`general`). Both
//! agree with the `jsonschema` crate, which the tests hold them to.

#[cfg(test)]
mod agreement_tests;
mod general;
#[cfg(test)]
mod general_agreement_tests;
mod names;
mod plain;
mod shape;
mod values;

use general::GeneralSchema;
use plain::PlainSchema;

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

/// One reason an instance does not match its schema.
///
/// Made to be cheap, since an invalid instance's report is built on the
/// task's path: what depends on the instance (its pointer, and the message,
/// which starts with the value) is one allocation; what the compiled schema
/// wrote once (the schema path, a required property's message and name) is
/// borrowed from it. `into_owned` keeps one past the schema.
#[derive(Debug, Clone)]
pub struct SchemaViolation<'s> {
    /// The instance path, then the message unless the schema wrote it.
    text: String,
    /// Where the instance path ends in `text`.
    path_end: usize,
    /// The message, when the compiled schema wrote it whole.
    written: Option<&'s str>,
    schema_path: Cow<'s, str>,
    missing: Option<Cow<'s, str>>,
}

impl<'s> SchemaViolation<'s> {
    pub fn new(
        instance_path: &str,
        schema_path: Cow<'s, str>,
        message: &str,
        missing: Option<Cow<'s, str>>,
    ) -> Self {
        Self {
            text: format!("{instance_path}{message}"),
            path_end: instance_path.len(),
            written: None,
            schema_path,
            missing,
        }
    }

    /// JSON pointer into the validated instance, e.g. `/items/0/price`.
    pub fn instance_path(&self) -> &str {
        &self.text[..self.path_end]
    }

    /// JSON pointer into the schema, e.g. `/properties/items/items/properties/price/minimum`.
    pub fn schema_path(&self) -> &str {
        &self.schema_path
    }

    pub fn message(&self) -> &str {
        self.written.unwrap_or(&self.text[self.path_end..])
    }

    /// The name of the required property that is missing, if that is the
    /// violation. Not part of stored details.
    pub fn missing(&self) -> Option<&str> {
        self.missing.as_deref()
    }

    /// The field the violation is about, as a JSON pointer: the instance
    /// path, or for a missing required property that property's path (so a
    /// form can show the error at the field).
    pub fn field(&self) -> String {
        match &self.missing {
            Some(name) => format!("{}/{}", self.instance_path(), pointer_escape(name)),
            None => self.instance_path().to_owned(),
        }
    }

    pub fn into_owned(self) -> SchemaViolation<'static> {
        let mut text = self.text;
        if let Some(message) = self.written {
            text.push_str(message);
        }
        SchemaViolation {
            text,
            path_end: self.path_end,
            written: None,
            schema_path: Cow::Owned(self.schema_path.into_owned()),
            missing: self.missing.map(|name| Cow::Owned(name.into_owned())),
        }
    }
}

impl PartialEq for SchemaViolation<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.instance_path() == other.instance_path()
            && self.schema_path() == other.schema_path()
            && self.message() == other.message()
            && self.missing() == other.missing()
    }
}

impl Eq for SchemaViolation<'_> {}

/// As stored in a task's error details: `instancePath`, `schemaPath`,
/// `message`.
impl Serialize for SchemaViolation<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("SchemaViolation", 3)?;
        out.serialize_field("instancePath", self.instance_path())?;
        out.serialize_field("schemaPath", self.schema_path())?;
        out.serialize_field("message", self.message())?;
        out.end()
    }
}

/// A schema compiled once and reused for every instance.
pub struct CompiledSchema {
    validator: Validator,
}

/// The quickest validator that takes the schema.
enum Validator {
    Plain(PlainSchema),
    General(GeneralSchema),
}

impl CompiledSchema {
    pub fn compile(schema: &Value) -> Result<Self, String> {
        if !schema.is_object() && !schema.is_boolean() {
            return Err("a schema must be a JSON object or a boolean".to_owned());
        }
        let validator = match PlainSchema::compile(schema) {
            Some(plain) => {
                GeneralSchema::check(schema)?;
                Validator::Plain(plain)
            }
            None => Validator::General(GeneralSchema::compile(schema)?),
        };
        Ok(Self { validator })
    }

    pub fn is_valid(&self, instance: &Value) -> bool {
        match &self.validator {
            Validator::Plain(plain) => plain.is_valid(instance),
            Validator::General(general) => general.is_valid(instance),
        }
    }

    /// Every violation, not just the first. A valid instance (the usual
    /// case) is only checked, never walked for a report.
    pub fn violations(&self, instance: &Value) -> Vec<SchemaViolation<'_>> {
        match &self.validator {
            Validator::Plain(plain) => plain.violations(instance),
            Validator::General(general) => general.violations(instance),
        }
    }

    /// The plain validator, if it took the schema.
    #[cfg(test)]
    fn plain(&self) -> Option<&PlainSchema> {
        match &self.validator {
            Validator::Plain(plain) => Some(plain),
            Validator::General(_) => None,
        }
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
        violations.sort_by(|x, y| x.instance_path().cmp(y.instance_path()));
        assert_eq!(violations.len(), 3, "{violations:?}");
        assert_eq!(violations[0].instance_path(), "");
        assert_eq!(violations[1].instance_path(), "/a");
        assert_eq!(violations[1].schema_path(), "/properties/a/minimum");
        assert_eq!(violations[2].instance_path(), "/c");
        // A missing property is reported at the object, and belongs to the field.
        let missing: Vec<String> = violations[..1].iter().map(SchemaViolation::field).collect();
        assert_eq!(missing, ["/b"]);
        assert_eq!(violations[1].field(), "/a");
    }

    /// A report borrows from its schema; stored, it is the same three
    /// fields, and an owned copy reads the same.
    #[test]
    fn a_violation_is_stored_as_three_fields_and_outlives_its_schema() {
        let owned: Vec<SchemaViolation<'static>> = {
            let schema = CompiledSchema::compile(&json!({
                "type": "object", "required": ["id"],
                "properties": { "n": { "type": "integer", "minimum": 1 } }
            }))
            .unwrap();
            let report = schema.violations(&json!({ "n": 0 }));
            assert_eq!(
                serde_json::to_value(&report).unwrap(),
                json!([
                    { "instancePath": "", "schemaPath": "/required", "message": "\"id\" is a required property" },
                    { "instancePath": "/n", "schemaPath": "/properties/n/minimum", "message": "0 is less than the minimum of 1" }
                ])
            );
            let owned: Vec<_> = report
                .iter()
                .cloned()
                .map(SchemaViolation::into_owned)
                .collect();
            assert_eq!(owned, report);
            owned
        };
        assert_eq!(owned[0].message(), r#""id" is a required property"#);
        assert_eq!(owned[0].field(), "/id");
        assert_eq!(owned[1].instance_path(), "/n");
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
