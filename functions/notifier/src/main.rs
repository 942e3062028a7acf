//! notifier Lambda function: mail, directory and the webhook runner once,
//! then the shared handler.

use tel_engine::handlers::Notifier;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tel_engine::lambda::init_tracing();
    let (sdk, engine) = tel_engine::bootstrap::from_env().await?;
    let webhooks = std::sync::Arc::new(tel_runners::http_runner(&sdk, &engine));
    let notifier = Notifier::aws(
        engine,
        &sdk,
        &tel_engine::handlers::NotifierConfig::from_env(),
    )
    .webhooks(webhooks);
    tel_engine::lambda::run_sqs(notifier).await
}
