//! The definitions' catalogue: every name with its versions.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::super::ApiState;
use super::super::auth::Caller;
use super::super::problem::Problem;

pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let catalog = state.engine.definitions().store().catalog().await?;
    let items: Vec<Value> = catalog
        .into_iter()
        .map(|(name, versions)| json!({ "name": name, "latest": versions.last(), "versions": versions }))
        .collect();
    Ok(Json(json!({ "items": items })))
}
