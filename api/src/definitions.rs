//! Registering and reading task definitions and integrations, under their
//! access rules: a new name is registered by an admin, a new version by the
//! latest version's managers; a definition that calls an integration needs
//! its registrant to be allowed to use that integration (else anyone who may
//! register a definition could act with the integration's credentials). A
//! definition or integration the caller may not see is a 404; the
//! implementation is shown to managers only.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use tel_core::domain::{DefinitionName, DefinitionRef, Implementation, Permission, TaskDefinition};

/// A document that does not parse: 422 with every problem at its path.
fn invalid(code: &'static str, e: &tel_core::domain::definition::DefinitionError) -> Problem {
    let errors: Vec<Value> = e
        .problems
        .iter()
        .map(|p| json!({ "path": p.path, "message": p.message }))
        .collect();
    Problem::invalid(code, e.to_string()).with_errors(Value::Array(errors))
}

pub async fn register(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, Problem> {
    let value = named(body::json(&bytes)?, &name)?;
    let definition = TaskDefinition::parse(value).map_err(|e| invalid("INVALID_DEFINITION", &e))?;
    let latest = state
        .engine
        .definitions()
        .store()
        .get(&DefinitionRef {
            name: definition.name.clone(),
            version: None,
        })
        .await?;
    // One answer whether or not the name exists: it is not the caller's to learn.
    let allowed = match &latest {
        Some(latest) => caller.may(&latest.access, Permission::Manage),
        None => caller.admin,
    };
    if !allowed {
        return Err(Problem::forbidden(format!(
            "you may not register versions of {}: its managers may (admins, for a new name)",
            definition.name
        )));
    }
    // An integration the definition calls, or posts its notifications
    // through, acts with the integration's credentials: its registrant must
    // be allowed to use it.
    if let Some(Implementation::Http { integration, .. }) = &definition.implementation {
        require_use(&state, &caller, integration).await?;
    }
    if let Some(webhook) = definition
        .manual
        .as_ref()
        .and_then(|m| m.notify.as_ref())
        .and_then(|n| n.webhook.as_ref())
    {
        require_use(&state, &caller, &webhook.integration).await?;
    }
    let registered = state.engine.definitions().register(definition).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(&registered).expect("definitions serialise")),
    ))
}

/// Refuses an integration the caller may not use. Use is decided by the
/// integration's latest rules, whichever version is named; the named
/// version must exist too. Both failures read the same, so neither says
/// whether the integration exists.
async fn require_use(state: &ApiState, caller: &Caller, integration: &str) -> Result<(), Problem> {
    let reference =
        DefinitionRef::parse(integration).map_err(|m| Problem::invalid("INVALID_DEFINITION", m))?;
    let integrations = state.engine.integrations();
    let latest = integrations
        .get(&DefinitionRef {
            name: reference.name.clone(),
            version: None,
        })
        .await?;
    let may_use = latest.is_some_and(|i| i.access.may_use(&caller.identity()));
    let exists = match reference.version {
        Some(_) if may_use => integrations.get(&reference).await?.is_some(),
        _ => may_use,
    };
    if exists {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "you may not use integration {integration}"
        )))
    }
}

async fn fetch(
    state: &ApiState,
    caller: &Caller,
    reference: DefinitionRef,
) -> Result<Json<Value>, Problem> {
    let missing = || Problem::not_found(format!("no definition {reference}"));
    let definitions = state.engine.definitions();
    let definition = definitions
        .store()
        .get(&reference)
        .await?
        .ok_or_else(missing)?;
    // Any version is read under the latest version's rules.
    let access = &definitions.latest_access(reference.name.as_str()).await?;
    if !(caller.may(access, Permission::Read) || caller.may(access, Permission::Submit)) {
        return Err(missing());
    }
    let versions = state
        .engine
        .definitions()
        .store()
        .versions(&reference.name)
        .await?;
    let mut body = serde_json::to_value(&definition).expect("definitions serialise");
    body["versions"] = json!(versions);
    // The code, the system function's config, the request mapping: for managers.
    if !caller.may(access, Permission::Manage)
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("implementation");
    }
    Ok(Json(body))
}

/// The document with the path's name: filled in when absent, and it must agree when present.
fn named(mut value: Value, name: &str) -> Result<Value, Problem> {
    let Some(fields) = value.as_object_mut() else {
        return Err(Problem::bad_request("the body must be a JSON object"));
    };
    match fields.get("name") {
        None => {
            fields.insert("name".into(), Value::String(name.to_owned()));
        }
        Some(Value::String(given)) if given == name => {}
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "the body names {other}, the path {name:?}"
            )));
        }
    }
    Ok(value)
}

fn name(text: &str) -> Result<DefinitionName, Problem> {
    DefinitionName::parse(text).map_err(|_| Problem::not_found(format!("no definition {text}")))
}

pub async fn latest(
    State(state): State<ApiState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<Value>, Problem> {
    fetch(
        &state,
        &caller,
        DefinitionRef {
            name: name(&text)?,
            version: None,
        },
    )
    .await
}

pub async fn version(
    State(state): State<ApiState>,
    caller: Caller,
    Path((text, version)): Path<(String, String)>,
) -> Result<Json<Value>, Problem> {
    let version = version
        .parse::<u32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Problem::not_found(format!("no version {version}")))?;
    fetch(
        &state,
        &caller,
        DefinitionRef {
            name: name(&text)?,
            version: Some(version),
        },
    )
    .await
}

pub async fn register_integration(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, Problem> {
    let value = named(body::json(&bytes)?, &name)?;
    let integration = tel_core::integrations::Integration::parse(value)
        .map_err(|e| invalid("INVALID_INTEGRATION", &e))?;
    let latest = state
        .engine
        .integrations()
        .get(&DefinitionRef {
            name: integration.name.clone(),
            version: None,
        })
        .await?;
    let allowed = match &latest {
        Some(latest) => latest.access.may_manage(&caller.identity()),
        None => caller.admin,
    };
    if !allowed {
        return Err(Problem::forbidden(format!(
            "you may not register versions of integration {}: its managers may (admins, for a new name)",
            integration.name
        )));
    }
    integration
        .check_secret_refs(&state.engine.settings().integration_secrets_prefix)
        .map_err(|e| invalid("INVALID_INTEGRATION", &e))?;
    // Where calls go and with which credentials is for admins: a manager
    // could otherwise send the integration's secret to a host of their own.
    if let Some(latest) = &latest
        && !caller.admin
        && let Some(field) = integration.admin_only_change_from(latest)
    {
        return Err(Problem::forbidden(format!(
            "only admins may change {field} of integration {}",
            integration.name
        )));
    }
    let registered = state.engine.integrations().register(integration).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(&registered).expect("integrations serialise")),
    ))
}

pub async fn integration(
    State(state): State<ApiState>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<Value>, Problem> {
    let reference = DefinitionRef {
        name: name(&text)?,
        version: None,
    };
    let found = state
        .engine
        .integrations()
        .get(&reference)
        .await?
        .filter(|i| i.access.may_read(&caller.identity()))
        .ok_or_else(|| Problem::not_found(format!("no integration {text}")))?;
    Ok(Json(
        serde_json::to_value(&found).expect("integrations serialise"),
    ))
}
