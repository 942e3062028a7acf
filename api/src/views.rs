//! The inbox's views (`GET /tasks?view=…`) and their counts
//! (`GET /tasks/counts`): what is assigned to the caller, what their groups
//! hold unclaimed, what they completed; sorted by due time, priority or
//! creation; narrowed to overdue, due today or due this week. Every answer
//! carries an ETag, so a page polling for new work pays for no body while
//! nothing changed (`If-None-Match` → 304).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::access::actions_for;
use super::auth::Caller;
use super::body;
use super::filters::offered;
use super::problem::Problem;
use tel_core::domain::{DefinitionName, FieldSearch, Predicate, TaskInstance};
use tel_core::ports::{DueWindow, InboxSort, InboxView, PageRequest, ViewQuery};

/// `overdue`, `today`, `week`: the window around `now` (days in UTC).
fn due_window(name: &str, now: DateTime<Utc>) -> Option<DueWindow> {
    let today = now.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
    let days = |n| today.checked_add_days(Days::new(n));
    match name {
        "overdue" => Some(DueWindow {
            from: None,
            to: now,
        }),
        "today" => Some(DueWindow {
            from: Some(today),
            to: days(1)?,
        }),
        "week" => Some(DueWindow {
            from: Some(today),
            to: days(7)?,
        }),
        _ => None,
    }
}

/// The search asked for: `field` with `eq`, `prefix`, or `min`/`max`.
#[derive(Default)]
struct SearchParams {
    field: Option<String>,
    eq: Option<String>,
    prefix: Option<String>,
    min: Option<String>,
    max: Option<String>,
}

impl SearchParams {
    fn predicate(self) -> Result<Option<(String, Predicate)>, Problem> {
        let predicate = match (
            self.eq,
            self.prefix,
            self.min.is_some() || self.max.is_some(),
        ) {
            (None, None, false) => None,
            (Some(eq), None, false) => Some(Predicate::Equals(eq)),
            (None, Some(prefix), false) => Some(Predicate::Prefix(prefix)),
            (None, None, true) => Some(Predicate::Range {
                min: self.min,
                max: self.max,
            }),
            _ => {
                return Err(Problem::bad_request(
                    "a search is one of eq, prefix, or min and/or max",
                ));
            }
        };
        match (self.field, predicate) {
            (None, None) => Ok(None),
            (Some(field), Some(predicate)) => Ok(Some((field, predicate))),
            (None, Some(_)) => Err(Problem::bad_request("a search names its field")),
            (Some(_), None) => Err(Problem::bad_request(
                "a search of a field needs eq, prefix, min or max",
            )),
        }
    }
}

/// The search of `field` in `definition`'s latest version, which must
/// declare it searchable.
async fn field_search(
    state: &ApiState,
    caller: &Caller,
    definition: DefinitionName,
    field: &str,
    predicate: Predicate,
) -> Result<FieldSearch, Problem> {
    let undeclared = Problem::bad_request(format!(
        "`{field}` is not a searchable field of {} (its manual.searchable)",
        definition.as_str()
    ));
    let loaded = state.engine.definitions().latest(definition).await?;
    // A definition not offered to the caller answers as one without the
    // field: whether it exists, and what it declares, is not theirs to learn.
    let kind = loaded
        .as_ref()
        .filter(|l| offered(&l.definition, &caller.identity()))
        .and_then(|l| l.definition.manual.as_ref())
        .and_then(|m| m.searchable.get(field).copied())
        .ok_or(undeclared)?;
    FieldSearch::new(field, kind, predicate)
        .map_err(|m| Problem::bad_request(format!("{field}: {m}")))
}

async fn query_of(
    state: &ApiState,
    caller: &Caller,
    raw: Option<&str>,
) -> Result<ViewQuery, Problem> {
    let mut query = ViewQuery {
        user: caller.user.clone(),
        groups: caller.groups.clone(),
        view: InboxView::Mine,
        sort: InboxSort::default(),
        due: None,
        definition: None,
        search: None,
        page: PageRequest::default(),
    };
    let mut search = SearchParams::default();
    let mut sorted = false;
    let mut definition = None;
    for (key, value) in body::query_pairs(raw) {
        match key.as_str() {
            "view" => {
                query.view = InboxView::parse(&value)
                    .ok_or_else(|| Problem::bad_request("view is mine, unclaimed or completed"))?
            }
            "sort" => {
                sorted = true;
                query.sort = InboxSort::parse(&value)
                    .ok_or_else(|| Problem::bad_request("sort is due, priority or created"))?
            }
            "due" => {
                query.due = Some(
                    due_window(&value, state.engine.clock().now())
                        .ok_or_else(|| Problem::bad_request("due is overdue, today or week"))?,
                )
            }
            "definition" => {
                let name = DefinitionName::parse(&value).map_err(Problem::bad_request)?;
                query.definition = Some(name.as_str().to_owned());
                definition = Some(name);
            }
            "field" => search.field = Some(value),
            "eq" => search.eq = Some(value),
            "prefix" => search.prefix = Some(value),
            "min" => search.min = Some(value),
            "max" => search.max = Some(value),
            "limit" => query.page.limit = Some(body::limit(&value, 100)?),
            "cursor" => query.page.cursor = Some(value),
            _ => {}
        }
    }
    if query.view == InboxView::Completed && query.due.is_some() {
        return Err(Problem::bad_request(
            "due filters the open views (mine, unclaimed), not completed",
        ));
    }
    if let Some((field, predicate)) = search.predicate()? {
        let Some(definition) = definition else {
            return Err(Problem::bad_request(
                "a search needs its definition: fields are declared per definition",
            ));
        };
        // One index range serves a search: it comes in the field's order, unwindowed.
        if sorted || query.due.is_some() {
            return Err(Problem::bad_request(
                "a search is in its field's order: it takes no sort or due",
            ));
        }
        query.search = Some(field_search(state, caller, definition, &field, predicate).await?);
    }
    Ok(query)
}

/// One page of a view, in its order.
pub async fn view(state: &ApiState, caller: &Caller, raw: Option<&str>) -> Result<Value, Problem> {
    let query = query_of(state, caller, raw).await?;
    let page = state.engine.tasks().view(&query).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for task in &page.items {
        items.push(inbox_item(state, caller, task).await?);
    }
    Ok(json!({
        "view": query.view.as_str(),
        // A search comes in its field's order.
        "sort": match &query.search {
            Some(search) => search.field.as_str(),
            None => query.due.map(|_| InboxSort::Due).unwrap_or(query.sort).as_str(),
        },
        "items": items,
        "nextCursor": page.next_cursor,
    }))
}

/// A task as an inbox lists it, with what the caller may do with it.
pub async fn inbox_item(
    state: &ApiState,
    caller: &Caller,
    t: &TaskInstance,
) -> Result<Value, Problem> {
    let rules = state
        .engine
        .definitions()
        .latest_access(&t.definition_name)
        .await?;
    let title = state.engine.definitions().title_of(t).await;
    Ok(json!({
        "taskInstanceId": t.task_instance_id, "definition": t.definition_ref(), "title": title, "status": t.status,
        "assignee": t.assignee, "dueAt": t.due_at, "priority": t.priority, "createdAt": t.created_at,
        "completedBy": t.completed_by, "finishedAt": t.finished_at,
        "workflowInstanceId": t.workflow_instance_id, "stepId": t.step_id,
        "actions": actions_for(t, &rules, caller),
    }))
}

/// `GET /tasks/counts`: how many tasks each view holds, up to 1,000 each.
pub async fn counts(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let mut counts = serde_json::Map::new();
    // Read once (a search resolves its definition), then counted per view.
    let asked = query_of(&state, &caller, raw.as_deref()).await?;
    for view in InboxView::ALL {
        let mut query = ViewQuery {
            view,
            due: None,
            ..asked.clone()
        };
        if view == InboxView::Completed {
            // The completed view has no due window: counted in its own order.
            query.sort = InboxSort::default();
        }
        let count = state.engine.tasks().view_count(&query).await?;
        counts.insert(
            view.as_str().to_owned(),
            json!({ "count": count.count, "more": count.more }),
        );
    }
    Ok(tagged(&headers, Value::Object(counts)))
}

/// The answer with its ETag, or 304 when the caller already has it.
pub fn tagged(headers: &HeaderMap, body: Value) -> Response {
    let digest = Sha256::digest(body.to_string().as_bytes());
    let tag = format!("\"{}\"", hex::encode(&digest[..12]));
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(body).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    // Each caller's own: caches between them keep nothing.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_days_in_utc_around_now() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let overdue = due_window("overdue", now).unwrap();
        assert!(overdue.contains(Some(at("2020-01-01T00:00:00Z"))));
        assert!(!overdue.contains(Some(now)));
        assert!(!overdue.contains(None), "no due time: in no window");
        let today = due_window("today", now).unwrap();
        assert!(today.contains(Some(at("2026-12-03T00:00:00Z"))));
        assert!(today.contains(Some(at("2026-12-03T23:59:59Z"))));
        assert!(!today.contains(Some(at("2026-12-04T00:00:00Z"))));
        assert!(!today.contains(Some(at("2026-12-02T23:59:59Z"))));
        let week = due_window("week", now).unwrap();
        assert!(week.contains(Some(at("2026-12-09T23:59:59Z"))));
        assert!(!week.contains(Some(at("2026-12-10T00:00:00Z"))));
        assert!(due_window("yesterday", now).is_none());
    }
}
