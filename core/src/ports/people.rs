//! People, for telling them about their work: who they are reachable as
//! (`Directory`: the identity provider, or the directory an operator
//! registers) and what they chose to hear (`PeopleStore`, kept by tel).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::NotificationPreferences;

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// The id tasks are assigned to (the token's `sub`, a Cognito username).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Addresses and group members, read when a notice is sent.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The person, or `None` when the directory does not know them.
    async fn person(&self, id: &str) -> Result<Option<Person>, StoreError>;

    /// A group's members, with their addresses (none for a group it does
    /// not know): a group's mail needs no lookup per member.
    async fn members(&self, group: &str) -> Result<Vec<Person>, StoreError>;
}

/// One person in the directory an operator registers (`PUT /directory/people/{id}`),
/// for deployments whose identity provider tel cannot ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryEntry {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// What tel keeps about people: the registered directory and each person's
/// notification preferences.
#[async_trait]
pub trait PeopleStore: Directory {
    /// Adds or replaces a person (their groups with them).
    async fn register(&self, entry: &DirectoryEntry) -> Result<(), StoreError>;

    async fn registered(&self, id: &str) -> Result<Option<DirectoryEntry>, StoreError>;

    /// Removes a person and their memberships; false when none was registered.
    async fn unregister(&self, id: &str) -> Result<bool, StoreError>;

    /// A person's choices: both channels on until they say otherwise.
    async fn preferences(&self, id: &str) -> Result<NotificationPreferences, StoreError>;

    async fn set_preferences(
        &self,
        id: &str,
        preferences: &NotificationPreferences,
    ) -> Result<(), StoreError>;
}
