use livekit_lambda_shared::{telemetry, EnvSettings, Runtime};
use local_server::{idle_timeout, listen_address, serve, LocalRoutes};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    livekit_lambda_shared::jwt::install();
    let env = EnvSettings::from_process();
    telemetry::init(Runtime::Local, &env, "local-server");
    let routes = LocalRoutes::from_env(&env).await?;
    routes.warm_up().await;
    match &routes.authorizer {
        Some(authorizer) => {
            tracing::info!(issuer = authorizer.issuer(), "/token requires a bearer token (AUTH_MODE=jwt)")
        }
        None => tracing::info!("/token is open to anyone who can reach it (AUTH_MODE=off)"),
    }
    for feature in routes.features() {
        if feature.on {
            tracing::info!(feature = feature.name, "on");
        } else {
            tracing::info!(feature = feature.name, "off: set {} to turn it on", feature.switch);
        }
    }
    if env.non_empty("STATE_TABLE").is_none() {
        tracing::info!("fleet state lives in this process: set STATE_TABLE to use a DynamoDB table (docs/state.md)");
    }
    let listener = TcpListener::bind(listen_address(&env)?).await?;
    // Tests (and people) read this line to find the port.
    println!("local server listening on http://{}", listener.local_addr()?);
    serve(listener, routes, idle_timeout(&env)?).await?;
    Ok(())
}
