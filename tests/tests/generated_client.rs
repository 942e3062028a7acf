//! A client generated from `/openapi.json` by openapi-python-client (as a
//! user of the API would make one) works: the generator names every
//! operation, keeps every schema, and warns of nothing; the client submits a
//! task, finds it in the inbox, claims it and completes it.

use std::path::PathBuf;

use serde_json::{Value, json};
use tel_tests::TestStack;
use tel_tests::api::{Api, As};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The tools venv scripts/test installs openapi-python-client into.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var("TEL_TOOLS_VENV").unwrap_or_else(|_| format!("{ROOT}/.venv-tools"));
    let path = PathBuf::from(venv).join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: scripts/test installs openapi-python-client into .venv-tools",
        path.display()
    );
    path
}

#[tokio::test]
async fn a_client_generated_from_the_openapi_document_works_a_task_end_to_end() {
    let (t, _events, runner) = TestStack::running([json!({
        "name": "expense-approval", "type": "manual",
        "inputSchema": { "type": "object", "required": ["amount"] },
        "outputSchema": { "type": "object", "required": ["approved"], "properties": { "approved": { "type": "boolean" } } },
        "manual": { "assignment": { "strategy": "group", "id": "finance" } },
        "access": { "submit": { "groups": ["finance"] }, "read": { "groups": ["finance"] }, "work": { "groups": ["finance"] } }
    })])
    .await;
    let api = Api::serve(&t).await;

    let dir = std::env::temp_dir().join(tel_tests::random_name("generated-client"));
    std::fs::create_dir_all(&dir).unwrap();
    let document = tel_api::openapi::document();
    std::fs::write(dir.join("openapi.json"), document.to_string()).unwrap();
    std::fs::write(dir.join("config.yaml"), "post_hooks: []\n").unwrap();
    // Async processes: the API being called runs on this test's runtime.
    let generated = tokio::process::Command::new(tool("openapi-python-client"))
        .current_dir(&dir)
        .args(["generate", "--path", "openapi.json", "--meta", "none"])
        .args(["--output-path", "tel_client", "--config", "config.yaml"])
        .output()
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "{said}");
    assert!(
        !said.contains("Warning") && !said.contains("WARNING") && !said.contains("Unable"),
        "the generator took every operation and schema: {said}"
    );
    for module in ["submit_task", "list_inbox", "claim_task", "complete_task"] {
        assert!(
            dir.join(format!("tel_client/api/tasks/{module}.py"))
                .exists(),
            "{module}: operations are named"
        );
    }
    assert!(dir.join("tel_client/models/integration_input.py").exists());

    let As(Some(token)) = As::user("fay", &["finance"]) else {
        unreachable!()
    };
    let run = tokio::process::Command::new(tool("python"))
        .arg(format!("{ROOT}/tests/fixtures/generated_client.py"))
        .env("PYTHONPATH", &dir)
        .env("TEL_API", &api.base)
        .env("TEL_TOKEN", token)
        .output()
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(seen["claimed"], "CLAIMED");
    assert_eq!(seen["completed"], "COMPLETED");
    assert_eq!(seen["output"], json!({ "approved": true }));
    assert_eq!(seen["completedBy"], "fay");
    runner.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
