//! People and their notifications: each person's own choice of channels
//! (`/me/notifications`: nobody can set another's), and the directory an
//! operator registers when the identity provider cannot be asked (admins
//! only: an address registered for someone receives their task mail).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::Caller;
use super::body::typed;
use super::problem::Problem;
use tel_core::domain::NotificationPreferences;
use tel_core::ports::DirectoryEntry;

/// The longest id, address or group name the directory keeps.
const MAX_NAME: usize = 256;

pub async fn preferences(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Value>, Problem> {
    let preferences = state.engine.people().preferences(&caller.user).await?;
    Ok(Json(json!(preferences)))
}

pub async fn set_preferences(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let preferences: NotificationPreferences = typed(&body)?;
    state
        .engine
        .people()
        .set_preferences(&caller.user, &preferences)
        .await?;
    Ok(Json(json!(preferences)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    email: String,
    #[serde(default)]
    groups: Vec<String>,
}

fn well_formed(id: &str, registration: &Registration) -> Result<(), Problem> {
    let bad = |detail: String| Problem::invalid("INVALID_PERSON", detail);
    if id.trim().is_empty() || id.len() > MAX_NAME {
        return Err(bad(format!("an id has 1 to {MAX_NAME} characters")));
    }
    let email = &registration.email;
    let plausible = email.len() <= MAX_NAME
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == ';');
    if !plausible {
        return Err(bad("email must be one address, like ann@example.com".into()));
    }
    if registration
        .groups
        .iter()
        .any(|g| g.trim().is_empty() || g.len() > MAX_NAME)
    {
        return Err(bad(format!("each group has 1 to {MAX_NAME} characters")));
    }
    Ok(())
}

pub async fn register(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let registration: Registration = typed(&body)?;
    well_formed(&id, &registration)?;
    let mut groups = registration.groups;
    groups.sort();
    groups.dedup();
    let entry = DirectoryEntry {
        id,
        email: registration.email,
        groups,
    };
    state.engine.people().register(&entry).await?;
    Ok(Json(json!(entry)))
}

/// A person's entry: for admins, and for the person themselves.
pub async fn registered(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    if !caller.admin && caller.user != id {
        return Err(Problem::forbidden(
            "only admins read other people's directory entries",
        ));
    }
    let entry = state
        .engine
        .people()
        .registered(&id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("{id} is not in the directory")))?;
    Ok(Json(json!(entry)))
}

pub async fn unregister(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    caller.require_admin()?;
    let people = state.engine.people();
    let missing = || Problem::not_found(format!("{id} is not in the directory"));
    let entry = people.registered(&id).await?.ok_or_else(missing)?;
    if !people.unregister(&id).await? {
        return Err(missing());
    }
    Ok(Json(json!(entry)))
}
