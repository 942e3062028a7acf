//! The registered directory and people's notification preferences in the
//! single table: a person's profile (`PERSON#<id>` / `PROFILE`, their email
//! and groups), one membership item per group (`GROUP#<g>` / `MEMBER#<id>`,
//! with the address, so a group's members and their addresses are one query), and their preferences
//! (`PERSON#<id>` / `PREFERENCES`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::{get_s, s};
use super::errors::dynamo_error;
use super::keys::{PK, SK};
use super::query_all::query_all;
use super::task_store::DynamoTaskStore;
use tel_core::domain::NotificationPreferences;
use tel_core::ports::{Directory, DirectoryEntry, PeopleStore, Person, StoreError};

const PROFILE: &str = "PROFILE";
const PREFERENCES: &str = "PREFERENCES";
const MEMBER: &str = "MEMBER#";

fn person_pk(id: &str) -> String {
    format!("PERSON#{id}")
}

fn group_pk(group: &str) -> String {
    format!("GROUP#{group}")
}

impl DynamoTaskStore {
    async fn item(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<super::attributes::Item>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", self.table(), e))?;
        Ok(out.item)
    }

    async fn delete(&self, pk: String, sk: String) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .send()
            .await
            .map_err(|e| dynamo_error("DeleteItem", self.table(), e))?;
        Ok(())
    }
}

#[async_trait]
impl Directory for DynamoTaskStore {
    async fn person(&self, id: &str) -> Result<Option<Person>, StoreError> {
        Ok(self.registered(id).await?.map(|entry| Person {
            id: entry.id,
            email: Some(entry.email),
        }))
    }

    async fn members(&self, group: &str) -> Result<Vec<Person>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :member)")
            .expression_attribute_values(":pk", s(group_pk(group)))
            .expression_attribute_values(":member", s(MEMBER))
            .consistent_read(true);
        let items = query_all(query, self.table()).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let id = get_s(item, SK)?.strip_prefix(MEMBER)?.to_owned();
                let email = get_s(item, "email").map(str::to_owned);
                Some(Person { id, email })
            })
            .collect())
    }
}

#[async_trait]
impl PeopleStore for DynamoTaskStore {
    /// The profile first, then each membership: a retry after a failure
    /// writes the same items again. Memberships the person left go last.
    async fn register(&self, entry: &DirectoryEntry) -> Result<(), StoreError> {
        let before = self.registered(&entry.id).await?;
        let groups: Vec<AttributeValue> = entry.groups.iter().map(s).collect();
        self.client()
            .put_item()
            .table_name(self.table())
            .item(PK, s(person_pk(&entry.id)))
            .item(SK, s(PROFILE))
            .item("itemType", s("person"))
            .item("email", s(&entry.email))
            .item("groups", AttributeValue::L(groups))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", self.table(), e))?;
        for group in &entry.groups {
            self.client()
                .put_item()
                .table_name(self.table())
                .item(PK, s(group_pk(group)))
                .item(SK, s(format!("{MEMBER}{}", entry.id)))
                .item("itemType", s("member"))
                // The address beside the membership: a group's mail reads one query.
                .item("email", s(&entry.email))
                .send()
                .await
                .map_err(|e| dynamo_error("PutItem", self.table(), e))?;
        }
        for left in before
            .iter()
            .flat_map(|b| &b.groups)
            .filter(|g| !entry.groups.contains(g))
        {
            self.delete(group_pk(left), format!("{MEMBER}{}", entry.id))
                .await?;
        }
        Ok(())
    }

    async fn registered(&self, id: &str) -> Result<Option<DirectoryEntry>, StoreError> {
        let Some(item) = self.item(person_pk(id), PROFILE).await? else {
            return Ok(None);
        };
        let groups = match item.get("groups") {
            Some(AttributeValue::L(list)) => {
                list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
            }
            _ => Vec::new(),
        };
        Ok(Some(DirectoryEntry {
            id: id.to_owned(),
            email: get_s(&item, "email").unwrap_or_default().to_owned(),
            groups,
        }))
    }

    async fn unregister(&self, id: &str) -> Result<bool, StoreError> {
        let Some(entry) = self.registered(id).await? else {
            return Ok(false);
        };
        for group in &entry.groups {
            self.delete(group_pk(group), format!("{MEMBER}{id}"))
                .await?;
        }
        self.delete(person_pk(id), PROFILE.to_owned()).await?;
        Ok(true)
    }

    async fn preferences(&self, id: &str) -> Result<NotificationPreferences, StoreError> {
        let item = self.item(person_pk(id), PREFERENCES).await?;
        let on = |name: &str| {
            item.as_ref()
                .and_then(|i| i.get(name))
                .and_then(|v| v.as_bool().ok().copied())
                .unwrap_or(true)
        };
        Ok(NotificationPreferences {
            email: on("email"),
            webhook: on("webhook"),
        })
    }

    async fn set_preferences(
        &self,
        id: &str,
        preferences: &NotificationPreferences,
    ) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .item(PK, s(person_pk(id)))
            .item(SK, s(PREFERENCES))
            .item("itemType", s("preferences"))
            .item("email", AttributeValue::Bool(preferences.email))
            .item("webhook", AttributeValue::Bool(preferences.webhook))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", self.table(), e))?;
        Ok(())
    }
}
