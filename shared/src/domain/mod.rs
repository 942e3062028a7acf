//! The domain: what tasks and definitions are and how tasks move. No I/O here.

pub mod access;
pub mod callback;
pub mod creation;
pub mod definition;
pub mod envelope;
pub mod events;
pub mod history;
pub mod ids;
pub mod manual;
pub mod payload;
pub mod request;
pub mod retry;
pub mod schema;
pub mod state_machine;
pub mod task;
pub mod task_error;

pub use access::{AccessRules, Identity, IntegrationAccess, Permission, Principals};
pub use callback::{Callback, Outcome};
pub use creation::{Creation, NewTask};
pub use definition::{Implementation, Limits, TaskDefinition, TaskType};
pub use envelope::{Dispatch, Envelope, Stage};
pub use events::{EVENT_SOURCE, EventType, TaskEvent, events_of};
pub use history::HistoryEntry;
pub use ids::{DefinitionName, DefinitionRef, TaskInstanceId};
pub use manual::{Assignee, AssigneeType};
pub use payload::{ObjectLocation, PayloadField, PayloadRef};
pub use request::{ExecutionRequest, RejectedRequest};
pub use retry::RetryPolicy;
pub use state_machine::{Action, IllegalTransition, RetryWait, Transition, transition};
pub use task::{DeadlineKind, TaskInstance, TaskStatus};
pub use task_error::TaskError;
