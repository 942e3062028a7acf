//! People: one's own notification preferences, and the directory admins
//! register (addresses and groups, where the identity provider is not asked).

use serde_json::{Value, json};

use super::Operation;

fn person_id() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "The person's id: what tasks are assigned to (the token's subject).", "schema": { "type": "string", "minLength": 1, "maxLength": 256 } })
}

fn directory(
    id: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    problems: &'static [u16],
) -> Operation {
    Operation {
        id,
        tag: "people",
        summary,
        parameters: vec![person_id()],
        body,
        success: ("200", "The person's entry", "DirectoryEntry"),
        links: json!({}),
        problems,
    }
}

pub fn operations() -> Vec<(&'static str, &'static str, Operation)> {
    let preferences = |id, summary, body| Operation {
        id,
        tag: "people",
        summary,
        parameters: vec![],
        body,
        success: ("200", "The caller's preferences", "NotificationPreferences"),
        links: json!({}),
        problems: &[400, 401, 503],
    };
    vec![
        (
            "/me/notifications",
            "get",
            preferences(
                "getNotificationPreferences",
                "The caller's notification channels (both on until turned off)",
                None,
            ),
        ),
        (
            "/me/notifications",
            "put",
            preferences(
                "setNotificationPreferences",
                "Turn the caller's email or webhook notifications on or off",
                Some("NotificationPreferences"),
            ),
        ),
        (
            "/directory/people/{id}",
            "put",
            directory(
                "registerPerson",
                "Register a person's address and groups (admins; for deployments without a Cognito user pool)",
                Some("DirectoryRegistration"),
                &[400, 401, 403, 422, 503],
            ),
        ),
        (
            "/directory/people/{id}",
            "get",
            directory(
                "getPerson",
                "A person's directory entry (admins, or the person)",
                None,
                &[401, 403, 404, 503],
            ),
        ),
        (
            "/directory/people/{id}",
            "delete",
            directory(
                "unregisterPerson",
                "Remove a person and their group memberships from the directory (admins); answers what was removed",
                None,
                &[401, 403, 404, 503],
            ),
        ),
    ]
}

pub fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "NotificationPreferences",
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "email": { "type": "boolean", "default": true, "description": "Mail about tasks given to you or your groups." },
                    "webhook": { "type": "boolean", "default": true, "description": "Being named in the team channel's posts." }
                }
            }),
        ),
        (
            "DirectoryRegistration",
            json!({
                "type": "object",
                "required": ["email"],
                "additionalProperties": false,
                "properties": {
                    "email": { "type": "string", "format": "email", "maxLength": 256 },
                    "groups": { "type": "array", "items": { "type": "string", "minLength": 1, "maxLength": 256 } }
                }
            }),
        ),
        (
            "DirectoryEntry",
            json!({
                "type": "object",
                "required": ["id", "email", "groups"],
                "properties": {
                    "id": { "type": "string" },
                    "email": { "type": "string" },
                    "groups": { "type": "array", "items": { "type": "string" } }
                }
            }),
        ),
    ]
}
