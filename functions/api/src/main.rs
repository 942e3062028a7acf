//! api Lambda function (API Gateway HTTP API): configuration, clients and
//! the token verifier once, then the shared axum router.

use tel_api::{ApiState, admin::OperatorQueues, auth::AuthConfig, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tel_engine::lambda::init_tracing();
    let (sdk, engine) = tel_engine::bootstrap::from_env().await?;
    let auth = AuthConfig::from_env()?;
    let queues =
        OperatorQueues::from_vars(tel_aws::clients::dead_letter_queues(&sdk), std::env::vars());
    let state = ApiState::new(engine, auth).with_queues(queues);
    lambda_http::run(router(state)).await
}
