//! What a notification says: one `Notice` per event and kind, rendered as
//! a mail (subject and text) and as the input of a webhook post. Built from
//! the lifecycle event and the task's title; never from secrets or output.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use tel_core::domain::{Assignee, AssigneeType, NoticeKind, TaskEvent};

/// One thing to tell people, whatever the channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub task_instance_id: String,
    pub definition: String,
    pub title: String,
    /// Who holds the task now.
    pub holder: Option<Assignee>,
    pub due_at: Option<DateTime<Utc>>,
    /// The task's page in the web UI, when the deployment says where it is.
    pub link: Option<String>,
}

fn holder_text(holder: &Assignee) -> String {
    match holder.kind {
        AssigneeType::User => holder.id.clone(),
        AssigneeType::Group => format!("the group {}", holder.id),
    }
}

impl Notice {
    pub fn new(
        kind: NoticeKind,
        event: &TaskEvent,
        title: String,
        due_at: Option<DateTime<Utc>>,
        ui_url: Option<&str>,
    ) -> Self {
        let holder = match (event.assignee_type, &event.assignee_id) {
            (Some(kind), Some(id)) => Some(Assignee {
                kind,
                id: id.clone(),
            }),
            _ => None,
        };
        Self {
            kind,
            task_instance_id: event.task_instance_id.clone(),
            definition: event.definition.clone(),
            title,
            holder,
            due_at,
            link: ui_url.map(|url| format!("{url}#/tasks/{}", event.task_instance_id)),
        }
    }

    /// The first line: what happened, said to the person told.
    pub fn headline(&self) -> String {
        let title = &self.title;
        match (self.kind, &self.holder) {
            (NoticeKind::Assigned, Some(h)) if h.kind == AssigneeType::Group => {
                format!("Waiting for {}: {title}", holder_text(h))
            }
            (NoticeKind::Assigned, _) => format!("Assigned to you: {title}"),
            (NoticeKind::Escalated, Some(h)) => {
                format!("Escalated to {}: {title}", holder_text(h))
            }
            (NoticeKind::Escalated, None) => format!("Escalated: {title}"),
            (NoticeKind::Reminder, _) => format!("Reminder, still waiting: {title}"),
            (NoticeKind::Taken, Some(h)) => {
                format!("No longer yours, now with {}: {title}", holder_text(h))
            }
            (NoticeKind::Taken, None) => format!("No longer yours: {title}"),
        }
    }

    pub fn subject(&self) -> String {
        format!("[tel] {}", self.headline())
    }

    /// The mail's text.
    pub fn text(&self) -> String {
        let mut lines = vec![self.headline(), String::new()];
        lines.push(format!("Task: {}", self.title));
        lines.push(format!("Definition: {}", self.definition));
        if let Some(holder) = &self.holder {
            lines.push(format!("Assigned to: {}", holder_text(holder)));
        }
        if let Some(due) = self.due_at {
            lines.push(format!("Due: {}", due.format("%Y-%m-%d %H:%M UTC")));
        }
        lines.push(String::new());
        match &self.link {
            Some(link) => lines.push(format!("Open it: {link}")),
            None => lines.push(format!("Find it in your inbox: {}", self.task_instance_id)),
        }
        lines.join("\n")
    }

    /// What a webhook's request mapping reads as `input`: the text a chat
    /// shows, and the parts for a mapping that builds its own.
    pub fn webhook_input(&self, recipients: &[String]) -> Value {
        let mut text = self.headline();
        if !recipients.is_empty() {
            text.push_str(&format!(" (for {})", recipients.join(", ")));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!(" {link}"));
        }
        json!({
            "text": text,
            "kind": self.kind.as_str(),
            "title": self.title,
            "headline": self.headline(),
            "taskInstanceId": self.task_instance_id,
            "definition": self.definition,
            "assignee": self.holder,
            "dueAt": self.due_at,
            "link": self.link,
            "recipients": recipients,
        })
    }
}

/// The kinds of notice an event asks for: an assignment or escalation that
/// took the task from a person also tells them so.
pub fn kinds_of(event: &TaskEvent) -> Vec<NoticeKind> {
    use tel_core::domain::EventType;
    let taken = event.previous_assignee_type == Some(AssigneeType::User);
    let mut kinds = match event.event_type {
        EventType::Assigned => vec![NoticeKind::Assigned],
        EventType::Escalated => vec![NoticeKind::Escalated],
        EventType::Reminder => vec![NoticeKind::Reminder],
        _ => return Vec::new(),
    };
    if taken && event.event_type != EventType::Reminder {
        kinds.push(NoticeKind::Taken);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use tel_core::domain::{EventType, TaskStatus};

    fn event(kind: EventType, previous: Option<AssigneeType>) -> TaskEvent {
        serde_json::from_value(json!({
            "eventId": "e1", "type": kind.as_str(), "taskInstanceId": "t1",
            "workflowInstanceId": "w", "stepId": "s", "definition": "approve:2",
            "status": TaskStatus::Assigned, "attempt": 0, "occurredAt": Utc::now(),
            "assigneeType": "GROUP", "assigneeId": "finance",
            "previousAssigneeType": previous, "previousAssigneeId": previous.map(|_| "ann"),
        }))
        .unwrap()
    }

    #[test]
    fn a_task_taken_from_a_person_tells_them_too() {
        assert_eq!(
            kinds_of(&event(EventType::Escalated, Some(AssigneeType::User))),
            vec![NoticeKind::Escalated, NoticeKind::Taken]
        );
        assert_eq!(
            kinds_of(&event(EventType::Assigned, Some(AssigneeType::Group))),
            vec![NoticeKind::Assigned]
        );
        assert!(kinds_of(&event(EventType::Claimed, None)).is_empty());
    }

    #[test]
    fn the_mail_names_the_title_the_holder_and_the_link() {
        let notice = Notice::new(
            NoticeKind::Assigned,
            &event(EventType::Assigned, None),
            "Approve Ann's expense".into(),
            None,
            Some("https://tel.example/ui/"),
        );
        assert_eq!(
            notice.subject(),
            "[tel] Waiting for the group finance: Approve Ann's expense"
        );
        assert!(
            notice
                .text()
                .contains("Open it: https://tel.example/ui/#/tasks/t1")
        );
        let input = notice.webhook_input(&["bob".into()]);
        assert!(input["text"].as_str().unwrap().contains("(for bob)"));
    }
}
