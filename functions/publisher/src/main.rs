//! publisher Lambda function (the table's change stream): the bus client once,
//! then each batch of task writes becomes their lifecycle events.

use tel_engine::handlers::ChangePublisher;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_engine::lambda::init_tracing();
    let (_, engine) = tel_engine::bootstrap::from_env().await?;
    tel_engine::lambda::run_stream_publisher(ChangePublisher::of_engine(&engine)).await
}
