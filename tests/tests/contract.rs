//! The contract documents: the AsyncAPI document is valid AsyncAPI 3.0, every
//! reference in it resolves, and the copy in docs/ is the generated document.
//! (Every event the pipeline emits in the other tests is checked against it
//! by `EventWatcher`.)

use serde_json::Value;
use tel_core::domain::schema::CompiledSchema;
use tel_engine::contract::asyncapi;

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

/// A schema of the OpenAPI document's components, compiled with the whole
/// document as its root so references resolve.
fn openapi_schema(name: &str) -> CompiledSchema {
    let mut root = tel_api::openapi::document();
    root["$ref"] = Value::String(format!("#/components/schemas/{name}"));
    CompiledSchema::compile(&root).unwrap()
}

fn example_files(dir: &str) -> Vec<(String, Value)> {
    let mut files: Vec<(String, Value)> = std::fs::read_dir(format!("{ROOT}/examples/{dir}"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml")
            )
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.display().to_string(),
                serde_yaml::from_str(&text).unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn the_examples_match_the_documented_registration_and_request_schemas() {
    let definition = openapi_schema("TaskDefinitionInput");
    let integration = openapi_schema("IntegrationInput");
    let request = openapi_schema("ExecutionRequest");
    let mut seen = 0;
    for (path, value) in example_files("definitions")
        .into_iter()
        .chain(example_files("workflows/order-approval"))
    {
        let (schema, parsed) = if path.contains("integration-") {
            let parsed = tel_core::integrations::Integration::parse(value.clone()).map(|_| ());
            (&integration, parsed.map_err(|e| e.to_string()))
        } else if path.ends_with(".asl.json") {
            continue;
        } else {
            let parsed = tel_core::domain::TaskDefinition::parse(value.clone()).map(|_| ());
            (&definition, parsed.map_err(|e| e.to_string()))
        };
        parsed.unwrap_or_else(|e| panic!("{path}: {e}"));
        let violations = schema.violations(&value);
        assert!(violations.is_empty(), "{path}: {violations:#?}");
        seen += 1;
    }
    assert!(seen >= 6, "{seen} examples");
    for (path, value) in example_files("requests") {
        let valid = request.is_valid(&value);
        let parses = tel_core::domain::ExecutionRequest::parse(value).is_ok();
        assert!(valid && parses, "{path}: schema {valid}, parser {parses}");
    }
}

#[test]
fn what_the_schemas_refuse_the_parsers_refuse_too() {
    let definition = openapi_schema("TaskDefinitionInput");
    let request = openapi_schema("ExecutionRequest");
    let refused_definitions = [
        serde_json::json!({ "type": "automated" }),
        serde_json::json!({ "type": "manual", "manual": { "assignment": { "strategy": "user", "id": " " } } }),
        serde_json::json!({ "type": "automated", "implementation": { "kind": "javascript", "source": "x" }, "retry": { "maxAttempts": 0 } }),
        serde_json::json!({ "type": "automated", "implementation": { "kind": "javascript", "source": "x" }, "colour": "red" }),
    ];
    for value in refused_definitions {
        assert!(!definition.is_valid(&value), "the schema refuses {value}");
        let mut named = value.clone();
        named["name"] = "x".into();
        assert!(
            tel_core::domain::TaskDefinition::parse(named).is_err(),
            "the parser refuses {value}"
        );
    }
    let refused_requests = [
        serde_json::json!({ "taskDefinitionId": "a", "workflowInstanceId": "w", "stepId": "s" }),
        serde_json::json!({ "taskDefinitionId": "a", "workflowInstanceId": "w", "stepId": "s", "input": {}, "inputRef": { "bucket": "b", "key": "k" } }),
        serde_json::json!({ "taskDefinitionId": "a", "workflowInstanceId": " ", "stepId": "s", "input": {} }),
        serde_json::json!({ "taskDefinitionId": "a", "workflowInstanceId": "w", "stepId": "s", "input": {}, "priority": 10 }),
        serde_json::json!({ "taskDefinitionId": "A b", "workflowInstanceId": "w", "stepId": "s", "input": {} }),
    ];
    for value in refused_requests {
        assert!(!request.is_valid(&value), "the schema refuses {value}");
        assert!(
            tel_core::domain::ExecutionRequest::parse(value.clone()).is_err(),
            "the parser refuses {value}"
        );
    }
}
