//! `GET /tasks/definitions`: what the inbox's filter offers the caller —
//! the manual definitions whose tasks may come to them (by assignment or
//! escalation, or by their access rules), each with its searchable fields,
//! from the latest version. Other definitions' names are not shown.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::problem::Problem;
use tel_core::domain::{DefinitionName, Identity, Permission, TaskDefinition};

/// Whether the inbox's filter offers `definition` to `who`: a manual one
/// whose tasks may come to them, or whose rules let them read its tasks.
pub fn offered(definition: &TaskDefinition, who: &Identity) -> bool {
    definition.manual.as_ref().is_some_and(|manual| {
        manual.may_reach(who) || definition.access.allows(who, Permission::Read)
    })
}

pub async fn definitions(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Value>, Problem> {
    let who = caller.identity();
    let definitions = state.engine.definitions();
    let catalog = definitions.store().catalog().await?;
    let mut items = Vec::new();
    for name in catalog.into_keys() {
        let Ok(name) = DefinitionName::parse(&name) else {
            continue;
        };
        let Some(loaded) = definitions.latest(name).await? else {
            continue;
        };
        let definition = &loaded.definition;
        if let Some(manual) = definition
            .manual
            .as_ref()
            .filter(|_| offered(definition, &who))
        {
            items.push(json!({
                "name": definition.name.as_str(),
                "searchable": manual.searchable,
            }));
        }
    }
    Ok(Json(json!({ "items": items })))
}
