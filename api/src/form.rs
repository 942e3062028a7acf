//! Render-ready forms for manual tasks, in the JSON Forms format
//! (jsonforms.io): a JSON Schema, a UI schema and data for the part the
//! person reads (the task input, read-only) and for the part they fill in
//! (the output, validated on submit against the same output schema).
//!
//! `manual.uiComponents` shapes the UI schemas. Field names refer to the
//! output; `input.<name>` refers to the input:
//! `{ "order": [...], "labels": {...}, "widgets": {"comment": "textarea"},
//!    "help": {...}, "sections": [{"title": "...", "fields": [...]}] }`.
//! Widgets: `textarea`, `radio`, `slider`, `date`, `time`, `date-time`, `password`.

use serde_json::{Map, Value, json};

use tel_core::domain::{TaskDefinition, TaskInstance};

/// The parts of `uiComponents` for one side (input or output) of the form.
#[derive(Default)]
struct Hints {
    order: Vec<String>,
    labels: Map<String, Value>,
    widgets: Map<String, Value>,
    help: Map<String, Value>,
    sections: Vec<(String, Vec<String>)>,
}

impl Hints {
    /// Hints for the input side (keys prefixed `input.`) or the output side.
    fn from(ui: &Value, input_side: bool) -> Self {
        let keep = |key: &str| -> Option<String> {
            match (input_side, key.strip_prefix("input.")) {
                (true, Some(name)) => Some(name.to_owned()),
                (false, None) => Some(key.to_owned()),
                _ => None,
            }
        };
        let names = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(keep)
                .collect()
        };
        let map = |field: &str| -> Map<String, Value> {
            ui.get(field)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| keep(k).map(|k| (k, v.clone())))
                .collect()
        };
        let sections = ui
            .get("sections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s.get("title")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    names(s.get("fields").unwrap_or(&Value::Null)),
                )
            })
            .filter(|(_, fields)| !fields.is_empty())
            .collect();
        Self {
            order: names(ui.get("order").unwrap_or(&Value::Null)),
            labels: map("labels"),
            widgets: map("widgets"),
            help: map("help"),
            sections,
        }
    }
}

/// "dueDate" → "Due date", "customer_id" → "Customer id".
fn humanize(name: &str) -> String {
    let mut words = String::new();
    for (i, c) in name.chars().enumerate() {
        if c == '_' || c == '-' {
            words.push(' ');
        } else if c.is_uppercase() && i > 0 {
            words.push(' ');
            words.extend(c.to_lowercase());
        } else if i == 0 {
            words.extend(c.to_uppercase());
        } else {
            words.push(c);
        }
    }
    words
}

fn widget_options(widget: Option<&str>) -> Map<String, Value> {
    let mut options = Map::new();
    match widget {
        Some("textarea") => {
            options.insert("multi".into(), json!(true));
        }
        Some("slider") => {
            options.insert("slider".into(), json!(true));
        }
        Some(format @ ("radio" | "date" | "time" | "date-time" | "password")) => {
            options.insert("format".into(), json!(format));
        }
        _ => {}
    }
    options
}

/// A UI schema for `schema`, and the schema with help texts added as descriptions.
fn ui_for(schema: &Value, hints: &Hints, readonly: bool) -> (Value, Value) {
    let mut schema = schema.clone();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        let mut options = widget_options(None);
        if readonly {
            options.insert("readonly".into(), json!(true));
        }
        return (
            json!({ "type": "VerticalLayout", "elements": [{ "type": "Control", "scope": "#", "options": options }] }),
            schema,
        );
    };
    for (name, help) in &hints.help {
        if let Some(property) = properties.get_mut(name).and_then(Value::as_object_mut) {
            property.entry("description").or_insert(help.clone());
        }
    }
    let mut names: Vec<String> = hints
        .order
        .iter()
        .filter(|n| properties.contains_key(*n))
        .cloned()
        .collect();
    names.extend(
        properties
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let control = |name: &str| {
        let property = &properties[name];
        let label = hints
            .labels
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                property
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| humanize(name));
        let mut options = widget_options(hints.widgets.get(name).and_then(Value::as_str));
        if readonly {
            options.insert("readonly".into(), json!(true));
        }
        let mut element =
            json!({ "type": "Control", "scope": format!("#/properties/{name}"), "label": label });
        if !options.is_empty() {
            element["options"] = Value::Object(options);
        }
        element
    };
    let mut placed: Vec<&str> = Vec::new();
    let mut elements = Vec::new();
    for (title, fields) in &hints.sections {
        let controls: Vec<Value> = names
            .iter()
            .filter(|n| fields.contains(n))
            .map(|n| control(n))
            .collect();
        placed.extend(fields.iter().map(String::as_str));
        if !controls.is_empty() {
            elements.push(json!({ "type": "Group", "label": title, "elements": controls }));
        }
    }
    elements.extend(
        names
            .iter()
            .filter(|n| !placed.contains(&n.as_str()))
            .map(|n| control(n)),
    );
    (
        json!({ "type": "VerticalLayout", "elements": elements }),
        schema,
    )
}

/// Initial data for the output side: what was already produced, else the schema's defaults.
fn initial_output(task: &TaskInstance, schema: &Value) -> Value {
    if let Some(output) = &task.output {
        return output.clone();
    }
    let defaults: Map<String, Value> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, p)| p.get("default").map(|d| (k.clone(), d.clone())))
        .collect();
    Value::Object(defaults)
}

pub fn render(task: &TaskInstance, definition: &TaskDefinition, actions: &[&str]) -> Value {
    let ui = definition
        .manual
        .as_ref()
        .map(|m| m.ui_components.clone())
        .unwrap_or(Value::Null);
    let (input_ui, input_schema) = ui_for(&definition.input_schema, &Hints::from(&ui, true), true);
    let (output_ui, output_schema) =
        ui_for(&definition.output_schema, &Hints::from(&ui, false), false);
    json!({
        "taskInstanceId": task.task_instance_id,
        "definition": task.definition_ref(),
        "title": definition.title_of(task),
        "status": task.status,
        "assignee": task.assignee,
        "dueAt": task.due_at,
        "renderer": "jsonforms",
        "input": { "schema": input_schema, "uischema": input_ui, "data": task.input, "readonly": true },
        "output": { "schema": output_schema, "uischema": output_ui, "data": initial_output(task, &definition.output_schema) },
        "actions": actions,
        "submit": { "method": "POST", "href": format!("/tasks/{}/complete", task.task_instance_id), "body": "{ \"output\": <output data> }" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tel_core::domain::{Creation, NewTask, TaskInstanceId};

    #[test]
    fn labels_come_from_hints_titles_or_names() {
        assert_eq!(humanize("dueDate"), "Due date");
        assert_eq!(humanize("customer_id"), "Customer id");
    }

    #[test]
    fn the_expense_approval_form_snapshot() {
        let definition = TaskDefinition::parse(json!({
            "name": "approve-expense",
            "type": "manual",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "employee": { "type": "string", "title": "Employee" },
                    "amount": { "type": "number" },
                    "reason": { "type": "string" }
                }
            },
            "outputSchema": {
                "type": "object",
                "required": ["approved"],
                "properties": {
                    "approved": { "type": "boolean" },
                    "comment": { "type": "string", "maxLength": 500 },
                    "costCentre": { "type": "string", "enum": ["ops", "sales"], "default": "ops" }
                }
            },
            "manual": {
                "assignment": { "strategy": "group", "id": "finance" },
                "uiComponents": {
                    "order": ["approved", "costCentre", "comment", "input.amount"],
                    "labels": { "approved": "Approve this expense?", "input.amount": "Amount (EUR)" },
                    "widgets": { "comment": "textarea", "approved": "radio" },
                    "help": { "comment": "Required when rejecting." },
                    "sections": [{ "title": "Decision", "fields": ["approved", "costCentre"] }]
                }
            }
        }))
        .unwrap()
        .at_version(3);
        let now = chrono::Utc::now();
        let mut task = Creation::new(
            NewTask {
                task_instance_id: TaskInstanceId::parse("01900000-0000-7000-8000-000000000001")
                    .unwrap(),
                definition_name: "approve-expense".into(),
                definition_version: 3,
                task_type: None,
                workflow_instance_id: "wf".into(),
                step_id: "s".into(),
                input: json!({ "employee": "Ada", "amount": 120.5, "reason": "Conference" }),
                context: Value::Null,
                priority: 0,
                trace_id: None,
                requested_by: None,
                callback: None,
            },
            now,
            now,
        )
        .task;
        task.status = tel_core::domain::TaskStatus::Assigned;
        let form = render(&task, &definition, &["claim", "complete"]);
        assert_eq!(form["renderer"], "jsonforms");
        assert_eq!(form["actions"], json!(["claim", "complete"]));
        assert_eq!(
            form["input"],
            json!({
                "schema": definition.input_schema,
                "uischema": { "type": "VerticalLayout", "elements": [
                    { "type": "Control", "scope": "#/properties/amount", "label": "Amount (EUR)", "options": { "readonly": true } },
                    { "type": "Control", "scope": "#/properties/employee", "label": "Employee", "options": { "readonly": true } },
                    { "type": "Control", "scope": "#/properties/reason", "label": "Reason", "options": { "readonly": true } }
                ] },
                "data": { "employee": "Ada", "amount": 120.5, "reason": "Conference" },
                "readonly": true
            })
        );
        assert_eq!(
            form["output"],
            json!({
                "schema": {
                    "type": "object",
                    "required": ["approved"],
                    "properties": {
                        "approved": { "type": "boolean" },
                        "comment": { "type": "string", "maxLength": 500, "description": "Required when rejecting." },
                        "costCentre": { "type": "string", "enum": ["ops", "sales"], "default": "ops" }
                    }
                },
                "uischema": { "type": "VerticalLayout", "elements": [
                    { "type": "Group", "label": "Decision", "elements": [
                        { "type": "Control", "scope": "#/properties/approved", "label": "Approve this expense?", "options": { "format": "radio" } },
                        { "type": "Control", "scope": "#/properties/costCentre", "label": "Cost centre" }
                    ] },
                    { "type": "Control", "scope": "#/properties/comment", "label": "Comment", "options": { "multi": true } }
                ] },
                "data": { "costCentre": "ops" }
            })
        );
        assert_eq!(
            form["submit"]["href"],
            "/tasks/01900000-0000-7000-8000-000000000001/complete"
        );
    }
}
