//! Handler logic of every function. Lambda `main`s and the local runner call
//! these same handlers.

pub mod assignment;
pub mod attempts;
pub mod batch;
pub mod definitions;
pub mod executor;
pub mod manual_assign;
pub mod publisher;
pub mod router;
pub mod step_callbacks;
pub mod sweeper;
pub mod validator;

pub use batch::{Redeliver, SqsHandler};
pub use executor::Executor;
pub use manual_assign::ManualAssign;
pub use publisher::ChangePublisher;
pub use router::Router;
pub use sweeper::{SweepReport, Sweeper};
pub use validator::Validator;
