//! tel's general validator against the `jsonschema` crate, on random
//! schemas with every kind of keyword (applicators, `$ref`, conditionals,
//! patterns, formats, `unevaluated*`) and instances shaped to meet and miss
//! them: the same verdict, and the same violations, instance path, schema
//! path and message (as sets: the two order a node's keywords differently).
//!
//! Except one report: with `unevaluated*` in the schema, only that there
//! is one. On an instance already invalid the crate counts what some failed
//! subschemas evaluated and not others; tel drops every failed subschema's
//! annotations, as the drafts say. The verdicts agree, and the official
//! suite holds `unevaluated*` to the drafts.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};

use super::agreement_tests::{pick, reference, reference_violations};
use super::{CompiledSchema, SchemaViolation};

const NAMES: [&str; 6] = ["a", "b", "c/d", "e~f", "ü", "x1"];
const KINDS: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];
const PATTERNS: [&str; 5] = ["^a", "[0-9]+", "^x\\d$", "b|c", "^$"];
const FORMATS: [&str; 5] = ["date", "email", "ipv4", "uuid", "date-time"];
const STRINGS: [&str; 10] = [
    "",
    "a",
    "abc",
    "x1",
    "2024-02-29",
    "2023-02-29",
    "a@b.co",
    "10.0.0.1",
    "123e4567-e89b-12d3-a456-426614174000",
    "2024-01-01T10:00:00Z",
];

fn value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(*pick(rng, &[0, 1, 2, 3, 7, -4, 10])),
        3 => json!(*pick(rng, &[0.5, 1.0, 2.5, -1.5, 0.0075])),
        4 => json!(pick(rng, &STRINGS)),
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.random_range(0..4))
                .map(|_| (pick(rng, &NAMES).to_string(), value(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn schemas(rng: &mut StdRng, depth: u32, n: usize) -> Value {
    Value::Array((0..n).map(|_| schema(rng, depth)).collect())
}

fn schema(rng: &mut StdRng, depth: u32) -> Value {
    if rng.random_bool(0.05) {
        return json!(rng.random_bool(0.7));
    }
    let mut node = Map::new();
    for _ in 0..rng.random_range(1..4) {
        let keyword = *pick(
            rng,
            &[
                "type",
                "types",
                "enum",
                "const",
                "multipleOf",
                "minimum",
                "exclusiveMaximum",
                "maxLength",
                "pattern",
                "format",
                "minItems",
                "uniqueItems",
                "items",
                "prefixItems",
                "contains",
                "maxProperties",
                "required",
                "properties",
                "patternProperties",
                "additionalProperties",
                "propertyNames",
                "dependentRequired",
                "allOf",
                "anyOf",
                "oneOf",
                "not",
                "if",
                "$ref",
                "unevaluatedProperties",
                "unevaluatedItems",
            ],
        );
        let sub = |rng: &mut StdRng| {
            if depth > 0 {
                schema(rng, depth - 1)
            } else {
                json!(rng.random_bool(0.7))
            }
        };
        let value = match keyword {
            "type" => json!(pick(rng, &KINDS)),
            "types" => {
                let first = rng.random_range(0..KINDS.len());
                let second = (first + rng.random_range(1..KINDS.len())) % KINDS.len();
                node.insert("type".into(), json!([KINDS[first], KINDS[second]]));
                continue;
            }
            "enum" => Value::Array((0..rng.random_range(1..6)).map(|_| value(rng, 1)).collect()),
            "const" => value(rng, 1),
            "multipleOf" => json!(*pick(rng, &[2.0, 0.5, 3.0, 0.0025])),
            "minimum" | "exclusiveMaximum" => pick(rng, &[json!(0), json!(1), json!(2.5)]).clone(),
            "maxLength" | "minItems" | "maxProperties" => json!(rng.random_range(0..3)),
            "pattern" => json!(pick(rng, &PATTERNS)),
            "format" => json!(pick(rng, &FORMATS)),
            "uniqueItems" => json!(true),
            "items"
            | "contains"
            | "propertyNames"
            | "not"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "unevaluatedItems" => sub(rng),
            "prefixItems" | "allOf" | "anyOf" | "oneOf" => {
                let n = rng.random_range(1..3);
                schemas(rng, depth.saturating_sub(1), n)
            }
            "required" => {
                let first = rng.random_range(0..NAMES.len());
                let second = (first + rng.random_range(1..NAMES.len())) % NAMES.len();
                json!([NAMES[first], NAMES[second]])
            }
            "dependentRequired" => json!({ *pick(rng, &NAMES): [pick(rng, &NAMES)] }),
            "properties" => Value::Object(
                (0..rng.random_range(1..3))
                    .map(|_| (pick(rng, &NAMES).to_string(), sub(rng)))
                    .collect(),
            ),
            "patternProperties" => json!({ *pick(rng, &PATTERNS): sub(rng) }),
            "if" => {
                node.insert("then".into(), sub(rng));
                if rng.random_bool(0.5) {
                    node.insert("else".into(), sub(rng));
                }
                sub(rng)
            }
            "$ref" => json!("#/$defs/shared"),
            _ => continue,
        };
        // With nothing beside it, the crate reports `additionalProperties:
        // false` as "False schema does not allow" the first member's value,
        // at the object; tel names the members, as with `properties` beside.
        if keyword == "additionalProperties" && value == json!(false) {
            node.entry("properties").or_insert(json!({ "a": true }));
        }
        node.insert(keyword.to_owned(), value);
    }
    Value::Object(node)
}

fn listed(violations: Vec<SchemaViolation>) -> Vec<(String, String, String)> {
    let mut listed: Vec<_> = violations
        .into_iter()
        .map(|v| {
            (
                v.instance_path().to_owned(),
                v.schema_path().to_owned(),
                v.message().to_owned(),
            )
        })
        .collect();
    listed.sort();
    listed
}

#[test]
fn the_general_validator_agrees_with_the_crate_on_random_schemas_and_instances() {
    let mut rng = StdRng::seed_from_u64(2712);
    let mut invalid = 0;
    let mut general = 0;
    for _ in 0..3_000 {
        let mut root = schema(&mut rng, 2);
        if let Value::Object(map) = &mut root {
            map.insert("$defs".into(), json!({ "shared": schema(&mut rng, 1) }));
        }
        let compiled = CompiledSchema::compile(&root).unwrap_or_else(|e| panic!("{root}: {e}"));
        if compiled.plain().is_none() {
            general += 1;
        }
        let validator = reference(&root);
        for _ in 0..20 {
            let instance = value(&mut rng, 3);
            let crate_says = validator.is_valid(&instance);
            assert_eq!(
                compiled.is_valid(&instance),
                crate_says,
                "{root} / {instance}"
            );
            if !crate_says {
                invalid += 1;
            }
            let ours = listed(compiled.violations(&instance));
            let theirs = listed(reference_violations(&validator, &instance));
            if root.to_string().contains("\"unevaluated") {
                assert_eq!(ours.is_empty(), theirs.is_empty(), "{root} / {instance}");
            } else {
                assert_eq!(ours, theirs, "{root} / {instance}");
            }
        }
    }
    assert!(
        general > 2_500,
        "schemas for the general validator: {general}"
    );
    assert!(invalid > 10_000, "the instances must miss often: {invalid}");
}
