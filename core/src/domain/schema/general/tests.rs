//! The general validator's guards, each against the input that needs it:
//! a verdict an instance could steer, a keyword the crate enforced, work or
//! stack an instance or a schema could run up.

use serde_json::{Value, json};

use super::GeneralSchema;
use crate::domain::schema::SchemaViolation;

fn nested(depth: usize, inner: Value) -> Value {
    (0..depth).fold(inner, |value, _| json!([value]))
}

/// Past the depth it checks, the whole instance is invalid: under `not`, a
/// branch cut short must not count as a pass.
#[test]
fn an_instance_too_deep_to_check_is_invalid_even_under_not() {
    let schema = GeneralSchema::compile(&json!({
        "not": { "$ref": "#/$defs/has" },
        "$defs": {
            "has": { "anyOf": [{ "const": "secret" }, { "type": "array", "contains": { "$ref": "#/$defs/item" } }] },
            "item": { "$ref": "#/$defs/has" }
        }
    }))
    .unwrap();
    assert!(!schema.is_valid(&nested(3, json!("secret"))));
    assert!(schema.is_valid(&nested(3, json!("public"))));
    let deep = nested(100, json!("secret"));
    assert!(!schema.is_valid(&deep));
    let report = schema.violations(&deep);
    assert_only_too_deep(&report);
    assert!(!schema.is_valid(&nested(100, json!("public"))));
}

#[test]
fn dependencies_hold_in_every_draft_as_the_crate_held_them() {
    let schema =
        GeneralSchema::compile(&json!({ "dependencies": { "card": ["billing"] } })).unwrap();
    assert!(!schema.is_valid(&json!({ "card": 1 })));
    assert!(schema.is_valid(&json!({ "card": 1, "billing": 2 })));
}

#[test]
fn draft_7_asserts_base64_and_json_content() {
    let schema = GeneralSchema::compile(&json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "contentEncoding": "base64",
        "contentMediaType": "application/json"
    }))
    .unwrap();
    assert!(schema.is_valid(&json!("eyJhIjogMX0="))); // {"a": 1}
    let report = schema.violations(&json!("not base64!"));
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].schema_path(), "/contentEncoding");
    let report = schema.violations(&json!("bm90IGpzb24=")); // not json
    assert_eq!(
        report[0].message(),
        r#""bm90IGpzb24=" is not compliant with "application/json" media type"#
    );
    // 2020-12 makes them annotations.
    let annotation = GeneralSchema::compile(&json!({ "contentEncoding": "base64" })).unwrap();
    assert!(annotation.is_valid(&json!("not base64!")));
}

/// The meta-schema does not look inside unknown keywords, but a `$ref` can
/// reach into one: a keyword there in a form tel does not take is refused,
/// not skipped (and `multipleOf: -1` cannot reach `i64::MIN % -1`).
#[test]
fn a_malformed_keyword_reached_by_ref_is_refused() {
    for bad in [
        json!({ "multipleOf": -1 }),
        json!({ "maximum": "10" }),
        json!({ "required": "a" }),
    ] {
        let schema = json!({ "properties": { "n": { "$ref": "#/x-m" } }, "x-m": bad });
        let error = GeneralSchema::compile(&schema)
            .err()
            .unwrap_or_else(|| panic!("{schema}"));
        assert!(error.contains("is malformed"), "{error}");
    }
}

/// `{"type": "string"}` at the end of `links` `$ref`s, each to the next.
fn chain(links: usize) -> Value {
    let defs: serde_json::Map<String, Value> = (0..links)
        .map(|i| {
            (
                format!("a{i}"),
                json!({ "$ref": format!("#/$defs/a{}", i + 1) }),
            )
        })
        .chain([(format!("a{links}"), json!({ "type": "string" }))])
        .collect();
    json!({ "$ref": "#/$defs/a0", "$defs": defs })
}

/// A chain of a thousand `$ref`s compiles without a call per link (no
/// stack runs out), and checking through it stops at the depth tel checks,
/// the instance then invalid.
#[test]
fn a_long_chain_of_refs_compiles_and_is_checked_only_so_deep() {
    let schema = GeneralSchema::compile(&chain(1000)).unwrap();
    let report = schema.violations(&json!("text"));
    assert_only_too_deep(&report);
    let schema = GeneralSchema::compile(&chain(100)).unwrap();
    assert!(schema.is_valid(&json!("text")));
    assert!(!schema.is_valid(&json!(1)));
}

/// In 2019-09 the items `contains` matched are not evaluated for
/// `unevaluatedItems` (2020-12 made them so).
#[test]
fn contains_marks_items_evaluated_from_2020_12_only() {
    let of = |draft: &str| {
        GeneralSchema::compile(&json!({
            "$schema": draft, "contains": { "type": "string" }, "unevaluatedItems": false
        }))
        .unwrap()
    };
    assert!(!of("https://json-schema.org/draft/2019-09/schema").is_valid(&json!(["a"])));
    assert!(of("https://json-schema.org/draft/2020-12/schema").is_valid(&json!(["a"])));
}

/// The one violation a walk past the depth tel checks reports.
fn assert_only_too_deep(report: &[SchemaViolation]) {
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(
        report[0]
            .message()
            .contains("nested deeper than tel checks"),
        "{report:?}"
    );
}
