//! The contract documents: the AsyncAPI document is valid AsyncAPI 3.0, every
//! reference in it resolves, and the copy in docs/ is the generated document.
//! (Every event the pipeline emits in the other tests is checked against it
//! by `EventWatcher`.)

use serde_json::Value;
use tel_shared::contract::asyncapi;
use tel_shared::domain::schema::CompiledSchema;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Every `$ref` value in `value`, with where it is.
fn references(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields {
                if key == "$ref"
                    && let Some(target) = inner.as_str()
                {
                    out.push((at.to_owned(), target.to_owned()));
                }
                references(inner, &format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                references(inner, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_asyncapi_document_is_valid_asyncapi_3_and_every_reference_resolves() {
    let document = asyncapi::document();
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{ROOT}/tests/fixtures/asyncapi-3.0.0.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let schema = CompiledSchema::compile(&spec).unwrap();
    let violations = schema.violations(&document);
    assert!(violations.is_empty(), "{violations:#?}");
    // The check bites: AsyncAPI 2's wording is not 3.0.
    let mut older = document.clone();
    older["operations"]["publishEvents"]["action"] = "publish".into();
    assert!(!schema.is_valid(&older));

    let mut refs = Vec::new();
    references(&document, "", &mut refs);
    assert!(refs.len() > 40, "{} references", refs.len());
    for (at, target) in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {target} is not local"));
        assert!(
            document.pointer(pointer).is_some(),
            "{at}: {target} names nothing"
        );
    }
}

#[test]
fn docs_asyncapi_yaml_is_the_generated_document() {
    let kept: Value = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{ROOT}/docs/asyncapi.yaml")).unwrap(),
    )
    .unwrap();
    assert!(
        kept == asyncapi::document(),
        "docs/asyncapi.yaml is stale: run `tel contract asyncapi > docs/asyncapi.yaml`"
    );
}
