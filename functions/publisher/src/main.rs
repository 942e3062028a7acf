//! publisher Lambda function (the table's change stream): the bus client once,
//! then each batch of task writes becomes their lifecycle events.

use tel_shared::handlers::ChangePublisher;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_shared::lambda::init_tracing();
    let (_, engine) = tel_shared::bootstrap::from_env().await?;
    tel_shared::lambda::run_stream_publisher(ChangePublisher::of_engine(&engine)).await
}
