//! The Lambda binary itself, started the way Lambda starts it, answering the `events/`
//! samples through the Runtime API contract on loopback, with SSM on moto_server.
//!
//! By default this runs the workspace's debug build of `token-generator` (`make test`
//! builds it). `make sam-test` points `LAMBDA_BOOTSTRAP` at the `bootstrap` that
//! `sam build` produced, and `LAMBDA_BOOTSTRAP_RUNNER` at an emulator when that artifact
//! is for another architecture, so the deployed artifact is what gets tested.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use livekit_api::access_token::TokenVerifier;
use serde_json::Value;
use wire_tests::runtime_api::{Outcome, RuntimeApi};
use wire_tests::{event_files, event_name, expected_status, workspace_root, MotoServer};

const KEY: &str = "APIbootstrap";
const SECRET: &str = "bootstrap-secret-bootstrap-secret-0042";
const PREFIX: &str = "/bootstrap/livekit";

fn bootstrap() -> PathBuf {
    let path = std::env::var_os("LAMBDA_BOOTSTRAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/token-generator"));
    assert!(path.exists(), "{} does not exist: build it first (`make test` does)", path.display());
    path
}

fn spawn(runtime_api: &str, env: &[(&str, String)]) -> Child {
    let runner = std::env::var("LAMBDA_BOOTSTRAP_RUNNER").unwrap_or_default();
    let mut words: Vec<String> = runner.split_whitespace().map(String::from).collect();
    words.push(bootstrap().to_string_lossy().to_string());
    let mut command = Command::new(&words[0]);
    command
        .args(&words[1..])
        // Only what Lambda would set: no profile files or credentials from this machine.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "token-generator")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("start the bootstrap")
}

fn logs(child: Child) -> String {
    let output = child.wait_with_output().expect("collect output");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(value) => value,
        Outcome::Error(error) => panic!("the function reported an invocation error: {error}"),
    }
}

#[tokio::test]
async fn bootstrap_answers_every_sample_event_with_one_ssm_call() {
    let moto = MotoServer::start();
    moto.put_livekit(PREFIX, KEY, SECRET, "https://lk.example.com").await;
    let api = RuntimeApi::start().await;
    let child = spawn(
        &api.address(),
        &[
            ("LIVEKIT_SSM_PREFIX", PREFIX.into()),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("ALLOWED_ORIGINS", "http://localhost:3000".into()),
        ],
    );

    let mut issued = Vec::new();
    for _round in 0..3 {
        for path in event_files() {
            let name = event_name(&path);
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let reply = response(api.invoke(event, Duration::from_secs(30)).await);
            assert_eq!(reply["statusCode"], expected_status(&name), "{name}: {reply}");
            assert_eq!(reply["headers"]["cache-control"], "no-store", "{name}");
            if name == "token-get.json" {
                let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
                assert_eq!(body["url"], "wss://lk.example.com");
                let token = body["token"].as_str().unwrap().to_string();
                let claims =
                    TokenVerifier::with_api_key(KEY, SECRET).verify(&token).expect("signed with the SSM secret");
                assert_eq!(claims.video.room, "demo-room");
                issued.push(token);
            }
        }
    }
    assert_eq!(
        moto.get_parameters_calls(PREFIX).len(),
        1,
        "one GetParameters per cold start, none per warm invocation"
    );

    let mut child = child;
    child.kill().ok();
    let output = logs(child);
    assert!(
        output.contains("\"status\":200") || output.contains("\"status\": 200"),
        "one JSON log line per request:\n{output}"
    );
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        assert!(serde_json::from_str::<Value>(line).is_ok(), "Lambda logs are JSON lines, got: {line}");
    }
    assert!(!output.contains(SECRET), "the API secret appeared in the logs");
    for token in &issued {
        assert!(!output.contains(token.as_str()), "an issued token appeared in the logs");
    }
}

#[tokio::test]
async fn bootstrap_without_credentials_fails_closed() {
    let api = RuntimeApi::start().await;
    let mut child = spawn(&api.address(), &[]);
    let health = response(
        api.invoke(
            serde_json::from_str(&std::fs::read_to_string(workspace_root().join("events/health.json")).unwrap())
                .unwrap(),
            Duration::from_secs(30),
        )
        .await,
    );
    assert_eq!(health["statusCode"], 200);
    let token = response(
        api.invoke(
            serde_json::from_str(&std::fs::read_to_string(workspace_root().join("events/token-get.json")).unwrap())
                .unwrap(),
            Duration::from_secs(30),
        )
        .await,
    );
    assert_eq!(token["statusCode"], 503, "never a token signed with a default inside Lambda: {token}");
    child.kill().ok();
    assert!(logs(child).contains("LIVEKIT_SSM_PREFIX"), "the log says what to configure");
}

#[tokio::test]
async fn bootstrap_with_an_invalid_setting_stops_naming_the_variable() {
    let api = RuntimeApi::start().await;
    let child = spawn(&api.address(), &[("TOKEN_TTL_SECONDS", "soon".into())]);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(!output.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("TOKEN_TTL_SECONDS"), "{text}");
}
