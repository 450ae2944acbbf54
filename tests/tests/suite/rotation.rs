//! Zero-downtime key rotation, walked step by step as docs/key-rotation.md tells an
//! operator to do it, against moto_server (SSM over the wire) and the Twirp test server
//! (which, like LiveKit, accepts several keys and looks the secret up by `iss`):
//!
//! (a) old key only; (b) the new key added to LiveKit and to SSM as a verifier
//! (`api-keys`); (c) the new key made current (`api-key`/`api-secret`); (d) LiveKit's
//! `webhook.api_key` moved to the new key; (e) the old key retired.
//!
//! At every step a genuine webhook delivery (signed by the official Node SDK with the key
//! LiveKit signs with at that step) and every genuine participant token minted so far are
//! accepted by a cold container, a warm one that turned over (its cache's max age passed,
//! as the runbook's waits guarantee) and a warm one that never turned over (it relies on
//! the one rate-limited refresh an unknown `iss` may trigger). After (e) the retired key is
//! refused.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::ssm::SsmParameters;
use livekit_lambda_shared::{CachePolicy, CredentialSource, CredentialStore, Service};
use livekit_protocol as proto;
use serde_json::{json, Value};
use subtitle_dispatcher::{SubtitleService, SubtitleSettings};
use token_generator::{TokenService, TokenSettings};
use webhook_receiver::{WebhookService, WebhookSettings};
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::{node, sign_webhook, ssm_client_for, MotoServer};

const OLD: (&str, &str) = ("APIoldKey", "old-secret-old-secret-old-secret-old-0001");
const NEW: (&str, &str) = ("APInewKey", "new-secret-new-secret-new-secret-new-0002");
const ROOM: &str = "lecture";

/// How long a "turning over" warm container trusts its cache; the walk waits longer than
/// this after every SSM change, as the runbook waits `CREDENTIALS_MAX_AGE_SECONDS`.
const SHORT_MAX_AGE: Duration = Duration::from_millis(300);

fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(MotoServer::start)
}

/// One deployment's three functions, each with its own credential store (as in Lambda).
#[derive(Clone)]
struct Functions {
    name: &'static str,
    tokens: TokenService,
    webhook: WebhookService,
    subtitles: SubtitleService,
}

fn store(prefix: &str, max_age: Duration) -> Arc<CredentialStore> {
    let parameters = SsmParameters::new(ssm_client_for(&moto().endpoint()), prefix);
    Arc::new(CredentialStore::new(
        CredentialSource::Ssm(parameters),
        CachePolicy { max_age, stale_limit: Duration::from_secs(3600) },
    ))
}

/// The token generator's store: signing only, as deployed (it never reads `api-keys`).
fn signing_store(prefix: &str, max_age: Duration) -> Arc<CredentialStore> {
    let parameters = SsmParameters::new(ssm_client_for(&moto().endpoint()), prefix);
    let store = CredentialStore::new(
        CredentialSource::Ssm(parameters),
        CachePolicy { max_age, stale_limit: Duration::from_secs(3600) },
    );
    Arc::new(store.signing_only())
}

async fn functions(name: &'static str, prefix: &str, max_age: Duration) -> Functions {
    let webhook = WebhookSettings {
        recording_notice: false,
        // One forced refresh for the whole walk: a container that never turns over must
        // not need more than one.
        forced_refresh_interval: Duration::from_secs(3600),
        ..WebhookSettings::default()
    };
    let subtitles = SubtitleSettings {
        agent_name: Some("transcriber".into()),
        requests_per_minute: 10_000,
        api_timeout: Duration::from_secs(2),
        ..SubtitleSettings::default()
    };
    let functions = Functions {
        name,
        // Signing only, as deployed: the token generator never reads `api-keys`.
        tokens: TokenService::new(TokenSettings::default(), signing_store(prefix, max_age)),
        webhook: WebhookService::new(webhook, store(prefix, max_age)),
        subtitles: SubtitleService::new(subtitles, store(prefix, max_age)),
    };
    functions.tokens.warm_up().await;
    functions.webhook.warm_up().await;
    functions.subtitles.warm_up().await;
    functions
}

async fn put(prefix: &str, name: &str, value: &str) {
    moto().put(&format!("{prefix}/{name}"), value, ParameterType::SecureString).await;
}

fn keys_text(keys: &[(&str, &str)]) -> String {
    keys.iter().map(|(k, s)| format!("{k}: {s}\n")).collect()
}

async fn mint(functions: &Functions) -> String {
    let request = Request::get(format!("/token?room={ROOM}&participant=alice")).body(Body::Empty).unwrap();
    let response = functions.tokens.handle(request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), 200, "{}: token generator: {body}", functions.name);
    body["token"].as_str().unwrap().to_string()
}

fn issuer(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["iss"].as_str().unwrap().to_string()
}

async fn start_subtitles(functions: &Functions, token: &str) -> (u16, Value) {
    let request = Request::post(format!("/rooms/{ROOM}/subtitles"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap();
    let response = functions.subtitles.handle(request).await;
    (response.status().as_u16(), serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null))
}

async fn deliver(functions: &Functions, body: &str, authorization: &str) -> (u16, Value) {
    let request = Request::post("/webhook")
        .header("content-type", "application/webhook+json")
        .header("user-agent", "LiveKit")
        .header("authorization", authorization)
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = functions.webhook.handle(request).await;
    (response.status().as_u16(), serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null))
}

/// A delivery exactly as LiveKit sends it, signed with `key` by the official Node SDK.
fn delivery(step: &str, key: (&str, &str)) -> (String, String) {
    let event = proto::WebhookEvent {
        event: "room_started".into(),
        id: format!("EV_rotation_{step}"),
        created_at: 1_795_000_000,
        room: Some(proto::Room { name: ROOM.into(), sid: "RM_lecture".into(), ..Default::default() }),
        ..Default::default()
    };
    let body = serde_json::to_string(&event).unwrap();
    let authorization = sign_webhook(key.0, key.1, &body, json!({}));
    (body, authorization)
}

/// Everything a step must accept: the delivery LiveKit signs now and every token minted
/// so far, by every container; plus one token minted now by each token generator.
async fn accept_everything(step: &str, containers: &[&Functions], webhook_key: (&str, &str), tokens: &mut Vec<String>) {
    for functions in containers {
        tokens.push(mint(functions).await);
    }
    let (body, authorization) = delivery(step, webhook_key);
    for functions in containers {
        let (status, reply) = deliver(functions, &body, &authorization).await;
        assert_eq!(
            status, 200,
            "step {step}, {} webhook receiver, delivery signed with {}: {reply}",
            functions.name, webhook_key.0
        );
        for token in tokens.iter() {
            let (status, reply) = start_subtitles(functions, token).await;
            assert!(
                status == 200 || status == 201,
                "step {step}, {} subtitle dispatcher, token issued by {}: {status} {reply}",
                functions.name,
                issuer(token)
            );
        }
    }
}

/// What `infra/create-parameters.sh` writes for step (c), in its order: the script itself
/// runs, with an `aws` on `PATH` that records each `put-parameter` (name and value) instead
/// of calling AWS.
fn script_writes(key: &(&str, &str)) -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("rotation-aws-{}-{}", std::process::id(), key.0));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("writes");
    let fake = dir.join("aws");
    std::fs::write(
        &fake,
        r#"#!/usr/bin/env bash
# Records `aws ssm put-parameter --name N ... --value file://F` as "N<TAB>base64(F)".
name=""; value=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name="$2"; shift ;;
    --value) value="${2#file://}"; shift ;;
  esac
  shift
done
printf '%s	%s
' "$name" "$(base64 -w0 "$value")" >> "$RECORD"
echo 1
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_file(&record);
    let output = std::process::Command::new(wire_tests::workspace_root().join("infra/create-parameters.sh"))
        .arg("/rotation-walk/livekit")
        .env("PATH", format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default()))
        .env("RECORD", &record)
        .env("LIVEKIT_API_KEY", key.0)
        .env("LIVEKIT_API_SECRET", key.1)
        .env("LIVEKIT_URL", "wss://lk.example.com")
        .env("LIVEKIT_API_URL", "")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("infra/create-parameters.sh runs");
    assert!(output.status.success(), "create-parameters.sh: {}", String::from_utf8_lossy(&output.stderr));
    use base64::Engine;
    let writes: Vec<(String, String)> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, value)| {
            let value = base64::engine::general_purpose::STANDARD.decode(value).unwrap();
            (name.rsplit('/').next().unwrap().to_string(), String::from_utf8(value).unwrap())
        })
        // The URL is unchanged by a rotation: written again, it is not part of the switch.
        .filter(|(name, _)| name != "url")
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert!(writes.iter().any(|(name, _)| name == "current-key"), "{writes:?}");
    writes
}

#[tokio::test]
async fn every_runbook_step_accepts_genuine_deliveries_and_tokens_and_the_retired_key_is_refused_after() {
    let prefix = "/rotation-walk/livekit";
    let livekit = TwirpTestServer::start_with_keys(&[OLD]).await;
    livekit.add_room(ROOM, &["alice"]).await;
    let url = livekit.url();
    moto().put_livekit(prefix, OLD.0, OLD.1, "wss://lk.example.com").await;
    put(prefix, "api-url", &url).await;
    let settle = || tokio::time::sleep(SHORT_MAX_AGE + Duration::from_millis(150));

    // (a) The old key only.
    let warm = functions("warm", prefix, SHORT_MAX_AGE).await;
    let lagging = functions("never-turned-over", prefix, Duration::from_secs(3600)).await;
    let mut tokens = Vec::new();
    let cold = functions("cold", prefix, SHORT_MAX_AGE).await;
    accept_everything("a", &[&cold, &warm, &lagging], OLD, &mut tokens).await;

    // (b) The new key is added to LiveKit and to SSM as a verifier; nothing signs with it.
    livekit.set_keys(&[OLD, NEW]).await;
    put(prefix, "api-keys", &keys_text(&[OLD, NEW])).await;
    settle().await;
    let cold = functions("cold", prefix, SHORT_MAX_AGE).await;
    accept_everything("b", &[&cold, &warm, &lagging], OLD, &mut tokens).await;

    // (c) The new key becomes current, written as `infra/create-parameters.sh` writes it
    // (`current-key` in one write, then the two parameters older functions read), and a
    // cold token generator reads SSM between every two writes: each of its tokens is one
    // LiveKit accepts (issue 28: with two parameters, a read between them signed with the
    // new key and the old secret). New tokens are signed with NEW; tokens minted before the
    // switch (old key) keep working.
    for (name, value) in script_writes(&NEW) {
        put(prefix, &name, &value).await;
        let between = functions("between-the-writes", prefix, SHORT_MAX_AGE).await;
        let token = mint(&between).await;
        let (status, reply) = start_subtitles(&warm, &token).await;
        assert!(status == 200 || status == 201, "a token minted after writing {name}: {status} {reply}");
        tokens.push(token);
    }
    settle().await;
    let cold = functions("cold", prefix, SHORT_MAX_AGE).await;
    let before = tokens.len();
    accept_everything("c", &[&cold, &warm, &lagging], OLD, &mut tokens).await;
    let switched: Vec<String> = tokens[before..].iter().filter(|t| issuer(t) == NEW.0).cloned().collect();
    assert!(switched.len() >= 2, "the cold and the warm token generator sign with the new key after (c)");

    // (d) LiveKit signs webhooks with the new key.
    let cold = functions("cold", prefix, SHORT_MAX_AGE).await;
    accept_everything("d", &[&cold, &warm, &lagging], NEW, &mut tokens).await;

    // (e) After the longest token TTL, the old key is retired from LiveKit and SSM; the
    // tokens it signed have expired by then (here: dropped from the list).
    livekit.set_keys(&[NEW]).await;
    put(prefix, "api-keys", &keys_text(&[NEW])).await;
    settle().await;
    tokens.retain(|t| issuer(t) == NEW.0);
    let cold = functions("cold", prefix, SHORT_MAX_AGE).await;
    accept_everything("e", &[&cold, &warm], NEW, &mut tokens).await;

    // The retired key is refused by every container that turned over since (e).
    let (body, authorization) = delivery("e-old", OLD);
    let old_token =
        node("mint-token.mjs", &json!({"apiKey": OLD.0, "apiSecret": OLD.1, "identity": "alice", "room": ROOM}))
            ["token"]
            .as_str()
            .unwrap()
            .to_string();
    for functions in [&cold, &warm] {
        let (status, reply) = deliver(functions, &body, &authorization).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (401, Some("invalid_signature")),
            "{}: {reply}",
            functions.name
        );
        let (status, reply) = start_subtitles(functions, &old_token).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (401, Some("invalid_token")),
            "{}: {reply}",
            functions.name
        );
    }
    let refused = livekit.calls().await.into_iter().filter(|c| c.status == 401).count();
    assert_eq!(refused, 0, "LiveKit never refused a call of ours during the walk");
}
