//! tel's plain validator against the `jsonschema` crate, on random plain
//! schemas and instances shaped to meet and miss them: the same verdict and
//! the same report, path for path and message for message.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};

use std::borrow::Cow;

use super::{CompiledSchema, SchemaViolation};

/// The crate, built as tel's validators behave: formats asserted.
pub(super) fn reference(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("the crate refuses {schema}: {e}"))
}

/// The crate's report, as tel's violations.
pub(super) fn reference_violations(
    validator: &jsonschema::Validator,
    instance: &Value,
) -> Vec<SchemaViolation<'static>> {
    validator
        .iter_errors(instance)
        .map(|e| {
            let missing = match e.kind() {
                jsonschema::error::ValidationErrorKind::Required {
                    property: Value::String(name),
                } => Some(Cow::Owned(name.clone())),
                _ => None,
            };
            SchemaViolation::new(
                e.instance_path().as_str(),
                Cow::Owned(e.schema_path().as_str().to_owned()),
                &e.to_string(),
                missing,
            )
        })
        .collect()
}

/// Short and long names, names a pointer escapes and names JSON escapes;
/// two of the same length and first eight bytes (`quantity_total`,
/// `quantity_other`), which only their last bytes tell apart.
const NAMES: [&str; 11] = [
    "a",
    "b",
    "c/d",
    "e~f",
    "ü",
    "items",
    "quantity_total",
    "quantity_totals",
    "quantity_other",
    "q\"uote",
    "tab\tx",
];
const KINDS: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];

fn numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(2.5),
        json!(1.0),
        json!(-0.5),
        json!(9007199254740993u64),
        json!(9007199254740992.0),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e20),
        json!(-0.0),
        json!(0.1),
        json!(-9007199254740992i64),
        json!(-9007199254740993i64),
    ]
}

pub(super) fn pick<'a, T>(rng: &mut StdRng, from: &'a [T]) -> &'a T {
    &from[rng.random_range(0..from.len())]
}

fn schema(rng: &mut StdRng, depth: u32) -> Value {
    let mut node = Map::new();
    for _ in 0..rng.random_range(0..5) {
        let keyword = *pick(
            rng,
            &[
                "type",
                "minimum",
                "maximum",
                "exclusiveMinimum",
                "exclusiveMaximum",
                "minLength",
                "maxLength",
                "minItems",
                "maxItems",
                "items",
                "properties",
                "required",
                "title",
            ],
        );
        let value = match keyword {
            "type" => json!(pick(rng, &KINDS)),
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                pick(rng, &numbers()).clone()
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" => json!(rng.random_range(0..4)),
            "items" if depth > 0 => schema(rng, depth - 1),
            // Now and then many properties: the crate's hash-map form.
            "properties" if depth > 0 && rng.random_bool(0.1) => {
                Value::Object((0..20).map(|i| (format!("p{i}"), schema(rng, 0))).collect())
            }
            "properties" if depth > 0 => Value::Object(
                (0..rng.random_range(0..4))
                    .map(|_| (pick(rng, &NAMES).to_string(), schema(rng, depth - 1)))
                    .collect(),
            ),
            "required" => {
                let names: Vec<&str> = NAMES
                    .iter()
                    .copied()
                    .filter(|_| rng.random_bool(0.3))
                    .collect();
                json!(names)
            }
            "title" => json!("A title"),
            _ => continue,
        };
        node.insert(keyword.to_owned(), value);
    }
    Value::Object(node)
}

fn instance(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 | 3 => pick(rng, &numbers()).clone(),
        4 => json!(pick(rng, &["", "x", "xy", "üü", "a/b~c", "\"q\""])),
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| instance(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.random_range(0..24))
                .map(|_| {
                    let name = if rng.random_bool(0.3) {
                        format!("p{}", rng.random_range(0..20))
                    } else {
                        pick(rng, &NAMES).to_string()
                    };
                    (name, instance(rng, depth - 1))
                })
                .collect(),
        ),
    }
}

/// An instance written after the schema: an object's members in the order
/// of its `properties`, now and then one left out or a stray key put in
/// (the validator's walk in order, and its switch to searching midway),
/// and random values where the schema says nothing more.
fn ordered_instance(rng: &mut StdRng, schema: &Value, depth: u32) -> Value {
    if depth > 0 && rng.random_bool(0.9) {
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let mut object = Map::new();
            for (name, property) in properties {
                if rng.random_bool(0.1) {
                    object.insert(pick(rng, &NAMES).to_string(), instance(rng, 0));
                }
                if rng.random_bool(0.9) {
                    object.insert(name.clone(), ordered_instance(rng, property, depth - 1));
                }
            }
            return Value::Object(object);
        }
        if let Some(items) = schema.get("items") {
            return Value::Array(
                (0..rng.random_range(0..4))
                    .map(|_| ordered_instance(rng, items, depth - 1))
                    .collect(),
            );
        }
    }
    instance(rng, depth)
}

/// An object of two members or more whose keys are its schema's
/// `properties`, in their order: the walk in order from start to end.
fn in_order(schema: &Value, instance: &Value) -> bool {
    let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        instance.as_object(),
    ) else {
        return false;
    };
    object.len() >= 2 && properties.keys().take(object.len()).eq(object.keys())
}

/// A report as plain tuples, in its order: the order is the crate's too.
fn listed(violations: Vec<SchemaViolation>) -> Vec<(String, String, String, String)> {
    violations
        .into_iter()
        .map(|v| {
            (
                v.field(),
                v.instance_path().to_owned(),
                v.schema_path().to_owned(),
                v.message().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_plain_validator_agrees_with_the_crate_on_random_schemas_and_instances() {
    let mut rng = StdRng::seed_from_u64(27);
    let mut invalid = 0;
    let mut ordered = 0;
    for _ in 0..3_000 {
        let schema = schema(&mut rng, 3);
        let compiled = CompiledSchema::compile(&schema).unwrap();
        let validator = reference(&schema);
        let plain = compiled
            .plain()
            .unwrap_or_else(|| panic!("plain schema not taken: {schema}"));
        for round in 0..30 {
            let instance = match round {
                0..20 => instance(&mut rng, 3),
                _ => ordered_instance(&mut rng, &schema, 3),
            };
            if round >= 20 && in_order(&schema, &instance) {
                ordered += 1;
            }
            let crate_says = validator.is_valid(&instance);
            assert_eq!(
                plain.is_valid(&instance),
                crate_says,
                "{schema} / {instance}"
            );
            let expected = if crate_says {
                Vec::new()
            } else {
                invalid += 1;
                listed(reference_violations(&validator, &instance))
            };
            assert_eq!(
                listed(plain.violations(&instance)),
                expected,
                "{schema} / {instance}"
            );
        }
    }
    assert!(invalid > 10_000, "the instances must miss often: {invalid}");
    assert!(
        ordered > 500,
        "objects of two members or more, written in their schema's order: {ordered}"
    );
}

#[test]
fn a_node_of_64_members_is_taken_and_one_of_65_is_left_to_the_general_validator() {
    let names = |n: usize| (0..n).map(|i| format!("m{i}")).collect::<Vec<_>>();
    let at_limit = CompiledSchema::compile(&json!({ "required": names(64) })).unwrap();
    let plain = at_limit.plain().expect("64 members are taken");
    let all: Map<String, Value> = names(64).into_iter().map(|n| (n, json!(1))).collect();
    assert!(plain.is_valid(&Value::Object(all.clone())));
    let mut last_missing = all;
    last_missing.remove("m63");
    let report = plain.violations(&Value::Object(last_missing));
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].message(), r#""m63" is a required property"#);
    let beyond = CompiledSchema::compile(&json!({ "required": names(65) })).unwrap();
    assert!(beyond.plain().is_none());
}

#[test]
fn other_schemas_are_left_to_the_general_validator() {
    for schema in [
        json!({ "type": ["string", "null"] }),
        json!({ "type": "string", "format": "email" }),
        json!({ "enum": ["a", "b"] }),
        json!({ "$schema": "http://json-schema.org/draft-07/schema#", "type": "string" }),
        json!({ "properties": { "a": true } }),
        json!({ "items": [{ "type": "string" }] }),
        json!({ "additionalProperties": false }),
        json!({ "$ref": "#/$defs/a", "$defs": { "a": { "type": "string" } } }),
        json!({ "minLength": 1.0 }),
        json!({ "x-widget": "textarea" }),
        json!(true),
    ] {
        // Some of these do not compile at all; none may be taken here.
        if let Ok(compiled) = CompiledSchema::compile(&schema) {
            assert!(compiled.plain().is_none(), "{schema}");
        }
    }
    let draft =
        json!({ "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string" });
    assert!(CompiledSchema::compile(&draft).unwrap().plain().is_some());
}
