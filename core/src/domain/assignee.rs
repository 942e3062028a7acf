//! Who holds a manual task, or is told about it: a user or a group.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AssigneeType {
    User,
    Group,
}

/// Who holds a manual task: one user, or a group any member of which may claim it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignee {
    #[serde(rename = "type")]
    pub kind: AssigneeType,
    pub id: String,
}
