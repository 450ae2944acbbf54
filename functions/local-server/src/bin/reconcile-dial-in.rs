//! One-time reconciliation of SIP dial-in rules made before the state table existed
//! (docs/state.md). Run with the deployment's environment:
//! `STATE_TABLE=… SIP_TRUNK_ID=… LIVEKIT_SSM_PREFIX=… AWS_REGION=… cargo run -p local-server --bin reconcile-dial-in`.
//! Prints what it did as JSON; running it again is harmless.

use livekit_lambda_shared::{telemetry, EnvSettings, Runtime};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = EnvSettings::from_process();
    telemetry::init(Runtime::Local, &env, "reconcile-dial-in");
    let report = webhook_receiver::reconcile::reconcile_from_env(&env).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
