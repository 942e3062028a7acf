//! The queues the operator console reads and redrives: every queue of the
//! stack by name (for depths), and each source queue's dead-letter queue.
//! Named from the environment the functions already get
//! (`TEL_<NAME>_QUEUE_URL`, `TEL_<NAME>_DEAD_LETTER_QUEUE_URL`).

use std::collections::BTreeMap;
use std::sync::Arc;

use tel_core::ports::DeadLetterQueues;

use tel_engine::admin::stats::named_queues;

/// A source queue and where its given-up messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    /// `requests`, `validate`, `execute`, `manual`.
    pub name: String,
    pub source_url: String,
    pub url: String,
}

#[derive(Clone, Default)]
pub struct OperatorQueues {
    pub dead_letter_queues: Option<Arc<dyn DeadLetterQueues>>,
    /// Queue name (`execute`, `execute-dead-letter`, …) → URL.
    pub all: BTreeMap<String, String>,
    pub dead_letters: Vec<DeadLetterQueue>,
}

impl OperatorQueues {
    /// From `TEL_*_QUEUE_URL` variables, e.g. `std::env::vars()` in a function.
    pub fn from_vars(
        dead_letter_queues: Arc<dyn DeadLetterQueues>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let all = named_queues(vars);
        let dead_letters = all
            .iter()
            .filter_map(|(name, url)| {
                let source = name.strip_suffix("-dead-letter")?;
                Some(DeadLetterQueue {
                    name: source.to_owned(),
                    source_url: all.get(source)?.clone(),
                    url: url.clone(),
                })
            })
            .collect();
        Self {
            dead_letter_queues: Some(dead_letter_queues),
            all,
            dead_letters,
        }
    }

    pub fn dead_letter_queue(&self, name: &str) -> Option<&DeadLetterQueue> {
        self.dead_letters.iter().find(|q| q.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_and_their_dead_letter_queues_come_from_the_variables() {
        let sdk = tel_aws::SdkConfig::builder()
            .behavior_version(tel_aws::clients::BehaviorVersion::latest())
            .http_client(tel_aws::clients::shared_https_client())
            .build();
        let queues = OperatorQueues::from_vars(
            tel_aws::clients::dead_letter_queues(&sdk),
            [
                ("TEL_EXECUTE_QUEUE_URL", "q/execute"),
                ("TEL_EXECUTE_DEAD_LETTER_QUEUE_URL", "q/execute-dlq"),
                ("TEL_EXECUTE_PRIORITY_QUEUE_URL", "q/execute-priority"),
                ("TEL_MANUAL_DEAD_LETTER_QUEUE_URL", "q/orphan-dlq"),
                ("TEL_TABLE_NAME", "tasks"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        assert_eq!(
            queues.all.keys().collect::<Vec<_>>(),
            [
                "execute",
                "execute-dead-letter",
                "execute-priority",
                "manual-dead-letter"
            ]
        );
        // A dead-letter queue without its source queue cannot be redriven.
        assert_eq!(
            queues.dead_letters,
            [DeadLetterQueue {
                name: "execute".into(),
                source_url: "q/execute".into(),
                url: "q/execute-dlq".into()
            }]
        );
    }
}
