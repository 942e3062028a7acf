//! The orchestrator step waiting on a task: Step Functions' callback pattern
//! (`.waitForTaskToken`). The request carries the step's task token; tel
//! answers it when the task ends (`SendTaskSuccess`, `SendTaskFailure`) and
//! tells it the task is alive meanwhile (`SendTaskHeartbeat`).
//!
//! The token is a bearer credential for the step: whoever holds it can end
//! the step. It is kept with the task and nowhere else: never in a log line,
//! an event, an error or an API response (`Debug` hides it).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Step Functions' limit on a task token's length.
pub const MAX_TASK_TOKEN_CHARS: usize = 2048;
/// The most output `SendTaskSuccess` takes (256 KiB of UTF-8).
pub const MAX_CALLBACK_OUTPUT_BYTES: usize = 256 * 1024;
/// The most of `cause` `SendTaskFailure` takes.
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// The most of `error` `SendTaskFailure` takes.
pub const MAX_ERROR_CHARS: usize = 256;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub task_token: String,
    /// How often the step hears that the task is alive while it is unfinished.
    pub heartbeat_seconds: u32,
    /// The request asked for `callbackOutput: "envelope"`: the step is told
    /// `{output, taskInstanceId, traceId}` instead of the bare output.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub envelope: bool,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("task_token", &"<redacted>")
            .field("heartbeat_seconds", &self.heartbeat_seconds)
            .field("envelope", &self.envelope)
            .finish()
    }
}

/// Checks a token as the request gave it.
pub fn check_task_token(token: &str) -> Result<(), String> {
    if token.trim().is_empty() {
        Err("must be a non-empty string (the state's $$.Task.Token)".to_owned())
    } else if token.chars().count() > MAX_TASK_TOKEN_CHARS {
        Err(format!("must be at most {MAX_TASK_TOKEN_CHARS} characters"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let callback = Callback {
            task_token: "secret-token".into(),
            heartbeat_seconds: 60,
            envelope: false,
        };
        assert!(!format!("{callback:?}").contains("secret-token"));
    }

    #[test]
    fn tokens_are_checked_for_presence_and_length() {
        assert!(check_task_token("AQB8").is_ok());
        assert!(check_task_token(" ").is_err());
        assert!(check_task_token(&"x".repeat(MAX_TASK_TOKEN_CHARS + 1)).is_err());
    }
}
