//! Ports: the narrow capabilities handlers need, named by what they do.
//! Adapters implement them over AWS; unit tests use in-memory versions.

mod assignment_state;
mod aws_error;
mod concurrency;
mod dead_letters;
mod definition_store;
mod event_publisher;
mod figures;
mod inbox_views;
mod integrations;
mod notices;
mod operations;
mod payload_store;
mod people;
mod queue;
pub mod runner;
mod step_callbacks;
mod task_changes;
mod task_store;

pub use assignment_state::AssignmentState;
pub use aws_error::{AwsError, BoxError, ErrorClass};
pub use concurrency::ConcurrencySlots;
pub use dead_letters::{DeadLetterLog, DeadLetterNote, DeadLetterQueues, HeldMessage};
pub use definition_store::DefinitionStore;
pub use event_publisher::{BusEvent, EventPublisher, PublishError};
pub use figures::{FIGURE_DAYS, FigureStore};
pub use inbox_views::{
    DueWindow, InboxSort, InboxView, VIEW_COUNT_CAP, ViewCount, ViewPage, ViewQuery,
};
pub use integrations::{BreakerStore, IntegrationStore, SecretError, SecretSource};
pub use notices::{Mail, Mailer, NoticeClaim, NoticeLedger};
pub use operations::{MATCH_COUNT_CAP, MatchCount, OperationStore, Saved, Selected, SelectedPage};
pub use payload_store::{PayloadError, PayloadStore};
pub use people::{Directory, DirectoryEntry, PeopleStore, Person};
pub use queue::{
    MAX_DELAY_SECONDS, MAX_MESSAGE_BYTES, OutgoingMessage, QueueDepth, QueueError, QueueSender,
};
pub use runner::{Admission, RunError, RunJob, Runner, Runners};
pub use step_callbacks::{CallbackError, StepCallbacks};
pub use task_changes::TaskChange;
pub use task_store::{
    Created, Due, INBOX_PAGE, LIST_PAGE, Page, PageRequest, PageSize, StoreError, TaskFilter,
    TaskStore,
};
