use lambda_http::Error;
use livekit_lambda_shared::{lambda, telemetry, EnvSettings, Runtime};
use subtitle_dispatcher::SubtitleService;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(Runtime::Lambda);
    let service = SubtitleService::from_env(&EnvSettings::from_process(), Runtime::Lambda)
        .await
        .inspect_err(|error| tracing::error!(error = %error, "start-up failed"))?;
    service.warm_up().await;
    lambda::serve(service).await
}
