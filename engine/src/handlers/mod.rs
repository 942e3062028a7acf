//! The entry points: one handler per function. Lambda `main`s and the local
//! runner call these same handlers; what they share lives in the crate root.

pub mod executor;
pub mod manual_assign;
pub mod notifier;
pub mod publisher;
pub mod router;
pub mod sweeper;
pub mod validator;

pub use executor::Executor;
pub use manual_assign::ManualAssign;
pub use notifier::{NoticeObserver, Notifier, NotifierConfig, SentNotice};
pub use publisher::ChangePublisher;
pub use router::Router;
pub use sweeper::{SweepReport, Sweeper};
pub use validator::Validator;
