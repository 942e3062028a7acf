//! Who is told about a manual task's assignment events, and how: a
//! definition's `manual.notify` settings. The notifier function reads them
//! for each `task.assigned`, `task.escalated` and `task.reminder` event; a
//! task taken from the person who held it (an escalation or a reassignment
//! of a claimed task) is its own kind, `taken`.

use serde::{Deserialize, Serialize};

use super::assignee::{Assignee, AssigneeType};
use super::mapping::RequestSpec;

/// What happened, as far as the people concerned are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoticeKind {
    /// The task was given to someone (first assignment or a reassignment).
    Assigned,
    /// The task moved to the next step of its escalation.
    Escalated,
    /// A reminder fell due.
    Reminder,
    /// The task was taken from the person who held it.
    Taken,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 4] = [Self::Assigned, Self::Escalated, Self::Reminder, Self::Taken];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Escalated => "escalated",
            Self::Reminder => "reminder",
            Self::Taken => "taken",
        }
    }

    /// Who hears of it when the definition does not say: the new holder of an
    /// assignment, escalation or reminder; the person a task was taken from.
    fn default_recipients(&self) -> Vec<RecipientRule> {
        match self {
            Self::Taken => vec![RecipientRule::PreviousAssignee],
            _ => vec![RecipientRule::Assignee],
        }
    }
}

/// One entry of a kind's recipient list: `assignee` (the task's holder now;
/// a group reaches its members), `previousAssignee` (who held it before),
/// `user:<id>` or `group:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecipientRule {
    Assignee,
    PreviousAssignee,
    Fixed(Assignee),
}

impl RecipientRule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fixed = |kind, id: &str| {
            if id.trim().is_empty() {
                Err(format!("`{text}` names no one after the colon"))
            } else {
                Ok(Self::Fixed(Assignee {
                    kind,
                    id: id.to_owned(),
                }))
            }
        };
        match text {
            "assignee" => Ok(Self::Assignee),
            "previousAssignee" => Ok(Self::PreviousAssignee),
            _ => match text.split_once(':') {
                Some(("user", id)) => fixed(AssigneeType::User, id),
                Some(("group", id)) => fixed(AssigneeType::Group, id),
                _ => Err(format!(
                    "`{text}` is not a recipient: use assignee, previousAssignee, user:<id> or group:<id>"
                )),
            },
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Assignee => "assignee".into(),
            Self::PreviousAssignee => "previousAssignee".into(),
            Self::Fixed(Assignee {
                kind: AssigneeType::User,
                id,
            }) => format!("user:{id}"),
            Self::Fixed(Assignee { id, .. }) => format!("group:{id}"),
        }
    }

    /// Whom the rule names for one event: `now` holds the task, `before`
    /// held it until this event.
    pub fn resolve(&self, now: Option<&Assignee>, before: Option<&Assignee>) -> Option<Assignee> {
        match self {
            Self::Assignee => now.cloned(),
            Self::PreviousAssignee => before.cloned(),
            Self::Fixed(who) => Some(who.clone()),
        }
    }
}

impl Serialize for RecipientRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for RecipientRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A post to a chat channel through a registered integration (its base URL
/// is the incoming webhook's; its secrets, SSRF guard and breaker apply).
/// The request is evaluated over `{input: <the notice>}`; by default it posts
/// `{"text": …}` to the integration's base URL, as Slack and Teams take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSettings {
    /// `name` or `name:version` of a registered integration.
    pub integration: String,
    #[serde(default = "webhook_request")]
    pub request: RequestSpec,
}

fn webhook_request() -> RequestSpec {
    RequestSpec {
        method: "POST".into(),
        path: String::new(),
        query: Default::default(),
        headers: Default::default(),
        body: Some("{text: input.text}".into()),
    }
}

/// A definition's notification settings. Each kind's list replaces its
/// default; an empty list turns the kind off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<Vec<RecipientRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated: Option<Vec<RecipientRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder: Option<Vec<RecipientRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<Vec<RecipientRule>>,
    /// Email is sent when the deployment has a sender; `false` turns it off
    /// for this definition.
    #[serde(default = "yes")]
    pub email: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettings>,
}

fn yes() -> bool {
    true
}

impl NotifySettings {
    /// The defaults: assignees hear of assignments, escalations and
    /// reminders, by email; whoever loses a task hears of that.
    pub fn defaults() -> Self {
        Self {
            email: true,
            ..Self::default()
        }
    }

    pub fn recipients(&self, kind: NoticeKind) -> Vec<RecipientRule> {
        let chosen = match kind {
            NoticeKind::Assigned => &self.assigned,
            NoticeKind::Escalated => &self.escalated,
            NoticeKind::Reminder => &self.reminder,
            NoticeKind::Taken => &self.taken,
        };
        chosen.clone().unwrap_or_else(|| kind.default_recipients())
    }

    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if let Some(webhook) = &self.webhook
            && let Err(m) = super::DefinitionRef::parse(&webhook.integration)
        {
            problems.push(("manual.notify.webhook.integration".into(), m));
        }
        problems
    }
}

/// A person's choice of channels (`PUT /me/notifications`): both on until
/// they turn one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationPreferences {
    #[serde(default = "yes")]
    pub email: bool,
    #[serde(default = "yes")]
    pub webhook: bool,
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        Self {
            email: true,
            webhook: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_default_to_the_holder_and_a_list_replaces_the_default() {
        let settings: NotifySettings = serde_json::from_value(json!({
            "escalated": ["assignee", "previousAssignee", "group:leads"],
            "reminder": []
        }))
        .unwrap();
        assert!(settings.email);
        assert_eq!(
            settings.recipients(NoticeKind::Assigned),
            vec![RecipientRule::Assignee]
        );
        assert_eq!(
            settings.recipients(NoticeKind::Taken),
            vec![RecipientRule::PreviousAssignee]
        );
        assert!(settings.recipients(NoticeKind::Reminder).is_empty());
        let escalated = settings.recipients(NoticeKind::Escalated);
        assert_eq!(escalated.len(), 3);
        assert_eq!(
            escalated[2].resolve(None, None),
            Some(Assignee {
                kind: AssigneeType::Group,
                id: "leads".into()
            })
        );
        assert_eq!(
            serde_json::to_value(&settings).unwrap()["escalated"],
            json!(["assignee", "previousAssignee", "group:leads"])
        );
    }

    #[test]
    fn a_recipient_is_one_of_the_known_forms() {
        for bad in ["boss", "user:", "team:x", ""] {
            assert!(RecipientRule::parse(bad).is_err(), "{bad}");
        }
        let bad: Result<NotifySettings, _> =
            serde_json::from_value(json!({ "assigned": ["everyone"] }));
        assert!(bad.unwrap_err().to_string().contains("not a recipient"));
    }

    #[test]
    fn a_webhook_posts_text_unless_told_otherwise() {
        let settings: NotifySettings =
            serde_json::from_value(json!({ "webhook": { "integration": "team-chat" } })).unwrap();
        let webhook = settings.webhook.unwrap();
        assert_eq!(webhook.request.method, "POST");
        assert_eq!(webhook.request.body.as_deref(), Some("{text: input.text}"));
    }
}
