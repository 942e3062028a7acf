//! A manual task's search entries (`tel_core::domain::search`), kept in
//! step with the task by the publisher from the change stream: one item
//! per facet under the task's partition (`TASK#<id>` / `SEARCH#<facet>`),
//! in the `inbox-search` index under its shelf, definition and facet. A
//! write that moves the task puts the facets whose place or key changed
//! and deletes those it no longer has; the others are left alone, so a
//! claim of one's own task, a reminder or an automated task writes none.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};

use super::attributes::{Item, s};
use super::errors::{build_error, dynamo_error};
use super::keys::*;
use tel_core::domain::search::entry_key;
use tel_core::domain::{SearchEntries, TaskInstanceId};
use tel_core::ports::StoreError;

/// BatchWriteItem takes at most this many requests.
const BATCH: usize = 25;
/// Rounds of retrying what DynamoDB left unprocessed (throttled) before the
/// change is handed back to the stream.
const ROUNDS: u32 = 5;

/// The writes that take a task's entries from `before` to `after`.
fn requests(
    id: TaskInstanceId,
    before: Option<&SearchEntries>,
    after: Option<&SearchEntries>,
) -> Result<Vec<WriteRequest>, StoreError> {
    let mut writes = Vec::new();
    let unchanged = |facet: &str, key: &str| {
        before.zip(after).is_some_and(|(b, a)| {
            b.shelf == a.shelf
                && b.definition == a.definition
                && b.facets.get(facet).map(String::as_str) == Some(key)
        })
    };
    if let Some(after) = after {
        for (facet, key) in &after.facets {
            if unchanged(facet, key) {
                continue;
            }
            let item = Item::from([
                (PK.to_owned(), s(task_pk(id))),
                (SK.to_owned(), s(search_sk(facet))),
                (ITEM_TYPE.to_owned(), s("search")),
                (
                    GSI6PK.to_owned(),
                    s(search_pk(&after.shelf, &after.definition, facet)),
                ),
                (GSI6SK.to_owned(), s(entry_key(key, id))),
            ]);
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_error)?;
            writes.push(WriteRequest::builder().put_request(put).build());
        }
    }
    for facet in before.iter().flat_map(|b| b.facets.keys()) {
        if after.is_some_and(|a| a.facets.contains_key(facet)) {
            continue;
        }
        let delete = DeleteRequest::builder()
            .key(PK, s(task_pk(id)))
            .key(SK, s(search_sk(facet)))
            .build()
            .map_err(build_error)?;
        writes.push(WriteRequest::builder().delete_request(delete).build());
    }
    Ok(writes)
}

/// Files a task's entries as `after` where they were `before`.
pub async fn file(
    client: &Client,
    table: &str,
    id: TaskInstanceId,
    before: Option<&SearchEntries>,
    after: Option<&SearchEntries>,
) -> Result<(), StoreError> {
    let writes = requests(id, before, after)?;
    for chunk in writes.chunks(BATCH) {
        let mut pending = chunk.to_vec();
        for round in 0.. {
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| dynamo_error("BatchWriteItem", table, e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut left| left.remove(table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if round + 1 == ROUNDS {
                return Err(StoreError::Unavailable(format!(
                    "{} search entries of task {id} left unprocessed (throttled)",
                    pending.len()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tel_core::domain::{Assignee, AssigneeType, Shelf};

    fn entries(holder: &str, facets: &[(&str, &str)]) -> SearchEntries {
        SearchEntries {
            shelf: Shelf::Held(Assignee {
                kind: AssigneeType::User,
                id: holder.into(),
            }),
            definition: "approve".into(),
            facets: facets
                .iter()
                .map(|(f, k)| (f.to_string(), k.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn only_what_moved_is_written() {
        let id = TaskInstanceId::new();
        let ann = entries("ann", &[("@due", "1"), ("employee", "talice")]);
        assert_eq!(requests(id, Some(&ann), Some(&ann)).unwrap().len(), 0);
        let due_moved = entries("ann", &[("@due", "2"), ("employee", "talice")]);
        assert_eq!(requests(id, Some(&ann), Some(&due_moved)).unwrap().len(), 1);
        let to_bob = entries("bob", &[("@due", "1"), ("employee", "talice")]);
        assert_eq!(requests(id, Some(&ann), Some(&to_bob)).unwrap().len(), 2);
        let fewer = entries("ann", &[("@due", "1")]);
        let gone = requests(id, Some(&ann), Some(&fewer)).unwrap();
        assert!(gone.len() == 1 && gone[0].delete_request.is_some());
        assert_eq!(requests(id, Some(&ann), None).unwrap().len(), 2);
        assert_eq!(requests(id, None, Some(&ann)).unwrap().len(), 2);
    }
}
