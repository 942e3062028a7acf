//! A manual task's search entries (`tel_core::domain::search`), kept in
//! step with the task by the publisher from the change stream: one item
//! per facet under the task's partition (`TASK#<id>` / `SEARCH#<facet>`),
//! in the `inbox-search` index under its shelf, definition and facet. A
//! write that changes the entries puts all of them and deletes those the
//! task no longer has; a write that changes none (a claim of one's own
//! task, a reminder, any automated task) writes nothing.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};

use super::attributes::{Item, s};
use super::batch_write::write_all;
use super::errors::build_error;
use super::keys::*;
use tel_core::domain::search::entry_key;
use tel_core::domain::{SearchEntries, TaskInstanceId};
use tel_core::ports::StoreError;

use super::task_item::{MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};

/// The writes that take a task's entries from `before` to `after`.
fn requests(
    id: TaskInstanceId,
    before: Option<&SearchEntries>,
    after: Option<&SearchEntries>,
) -> Result<Vec<WriteRequest>, StoreError> {
    let mut writes = Vec::new();
    if before == after {
        return Ok(writes);
    }
    if let Some(after) = after {
        // Every facet, changed or not: an entry an earlier write never filed
        // (a task from before the upgrade) is filed by the next change. An
        // unchanged one costs its item's write unit and no index write.
        for (facet, key) in &after.facets {
            let (pk, sk) = (
                search_pk(&after.shelf, &after.definition, facet),
                entry_key(key, id),
            );
            // A holder id read from a request can be long: an entry DynamoDB
            // would refuse is left out (the task is then not found by it).
            if pk.len() > MAX_PARTITION_KEY_BYTES || sk.len() > MAX_SORT_KEY_BYTES {
                continue;
            }
            let item = Item::from([
                (PK.to_owned(), s(task_pk(id))),
                (SK.to_owned(), s(search_sk(facet))),
                (ITEM_TYPE.to_owned(), s("search")),
                (GSI6PK.to_owned(), s(pk)),
                (GSI6SK.to_owned(), s(sk)),
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
    write_all(
        client,
        table,
        writes,
        &format!("search entries of task {id}"),
    )
    .await
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
    fn a_change_files_every_entry_and_removes_the_lost_ones() {
        let id = TaskInstanceId::new();
        let ann = entries("ann", &[("@due", "1"), ("employee", "talice")]);
        assert_eq!(requests(id, Some(&ann), Some(&ann)).unwrap().len(), 0);
        // Any change files every entry again (one never filed is filed now).
        let due_moved = entries("ann", &[("@due", "2"), ("employee", "talice")]);
        assert_eq!(requests(id, Some(&ann), Some(&due_moved)).unwrap().len(), 2);
        let to_bob = entries("bob", &[("@due", "1"), ("employee", "talice")]);
        assert_eq!(requests(id, Some(&ann), Some(&to_bob)).unwrap().len(), 2);
        let fewer = entries("ann", &[("@due", "1")]);
        let gone = requests(id, Some(&ann), Some(&fewer)).unwrap();
        assert_eq!(gone.len(), 2);
        assert!(gone[1].delete_request.is_some(), "the field it lost");
        // A holder id too long for an index key files nothing DynamoDB would refuse.
        let long = entries(&"x".repeat(2100), &[("@due", "1")]);
        assert!(requests(id, None, Some(&long)).unwrap().is_empty());
        assert_eq!(requests(id, Some(&ann), None).unwrap().len(), 2);
        assert_eq!(requests(id, None, Some(&ann)).unwrap().len(), 2);
    }
}
