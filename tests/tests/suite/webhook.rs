//! The webhook receiver against deliveries signed by LiveKit's official Node SDK, acting
//! through LiveKit's Twirp API. The API is a loopback test server (no LiveKit server
//! binary can be installed here) that verifies our calls' tokens and grants like LiveKit.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::livekit::ClientCache;
use livekit_lambda_shared::ssm::SsmParameters;
use livekit_lambda_shared::state::{MemoryStore, SharedStore};
use livekit_lambda_shared::{CachePolicy, CredentialSource, CredentialStore, Credentials, Secret, Service};
use livekit_protocol as proto;
use serde_json::{json, Value};
use webhook_receiver::reconcile::{reconcile_dial_in, Reconciliation};
use webhook_receiver::settings::SipDialIn;
use webhook_receiver::{WebhookService, WebhookSettings};
use wire_tests::fleet::{create_table, dynamo_store, room_rule};
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::{sign_webhook, ssm_client_for, Fault, FaultProxy, MotoServer};

const KEY: &str = "APIwebhook";
const SECRET: &str = "webhook-secret-webhook-secret-webhook-1";

struct Setup {
    livekit: TwirpTestServer,
    service: WebhookService,
    /// The fleet's state the service keeps (in-process here; DynamoDB in `state.rs`).
    store: SharedStore,
    credentials: Arc<Credentials>,
}

async fn setup(sip: bool) -> Setup {
    setup_with_store(sip, Arc::new(MemoryStore::default())).await
}

async fn setup_with_store(sip: bool, store: SharedStore) -> Setup {
    let livekit = TwirpTestServer::start(KEY, SECRET).await;
    let credentials = Credentials::new(KEY, Secret::new(SECRET), "wss://lk.example.com", Some(&livekit.url())).unwrap();
    let settings = WebhookSettings {
        sip: sip.then(|| SipDialIn { trunk_id: "ST_trunk".into(), number: Some("+15550100".into()), pin_attempts: 5 }),
        api_timeout: Duration::from_secs(2),
        ..WebhookSettings::default()
    };
    let service =
        WebhookService::with_store(settings, Arc::new(CredentialStore::fixed(credentials.clone())), store.clone());
    Setup { livekit, service, store, credentials: Arc::new(credentials) }
}

fn event(kind: &str, id: &str, room: &str) -> proto::WebhookEvent {
    proto::WebhookEvent {
        event: kind.into(),
        id: id.into(),
        created_at: 1_795_000_000,
        room: Some(proto::Room { name: room.into(), sid: format!("RM_{room}"), ..Default::default() }),
        ..Default::default()
    }
}

fn egress_limit(id: &str, room: &str, egress_id: &str, kind: &str) -> proto::WebhookEvent {
    proto::WebhookEvent {
        room: None,
        egress_info: Some(proto::EgressInfo {
            egress_id: egress_id.into(),
            room_name: room.into(),
            status: proto::EgressStatus::EgressLimitReached as i32,
            error: "Session limit reached".into(),
            error_code: 413,
            ..Default::default()
        }),
        ..event(kind, id, room)
    }
}

fn joined(id: &str, room: &str, identity: &str) -> proto::WebhookEvent {
    proto::WebhookEvent {
        participant: Some(proto::ParticipantInfo { identity: identity.into(), ..Default::default() }),
        ..event("participant_joined", id, room)
    }
}

/// The body exactly as LiveKit sends it: protobuf JSON (camelCase, int64 as strings).
fn body_of(event: &proto::WebhookEvent) -> String {
    serde_json::to_string(event).unwrap()
}

fn delivery(body: &str, authorization: Option<&str>) -> Request<Body> {
    let mut request =
        Request::post("/webhook").header("content-type", "application/webhook+json").header("user-agent", "LiveKit");
    if let Some(auth) = authorization {
        request = request.header("authorization", auth);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

async fn deliver(service: &WebhookService, event: &proto::WebhookEvent) -> (u16, Value) {
    let body = body_of(event);
    let auth = sign_webhook(KEY, SECRET, &body, json!({}));
    send(service, delivery(&body, Some(&auth))).await
}

async fn send(service: &WebhookService, request: Request<Body>) -> (u16, Value) {
    let response = service.handle(request).await;
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null))
}

fn decode_data(call: &wire_tests::livekit_server::RecordedCall) -> Value {
    let data = call.request["data"].as_str().expect("data is base64 in protobuf JSON");
    let bytes = base64_standard(data);
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

fn base64_standard(input: &str) -> Vec<u8> {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in input.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | TABLE.iter().position(|t| *t == c).expect("base64") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[tokio::test]
async fn recording_limit_sends_exactly_one_notice_per_egress() {
    let Setup { livekit, service, .. } = setup(false).await;
    livekit.add_room("lecture", &["alice", "bob"]).await;
    let updated = egress_limit("EV_1", "lecture", "EG_1", "egress_updated");

    let (status, body) = deliver(&service, &updated).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    // The documented JSON shape of an action (docs/endpoints.md), never Rust's Debug text.
    assert_eq!(body["actions"], json!([{"type": "recording_notice_sent", "room": "lecture", "egress_id": "EG_1"}]));
    let sends = livekit.calls_to("SendData").await;
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].status, 200, "LiveKit accepted our token and grants");
    assert_eq!(sends[0].request["room"], "lecture");
    assert_eq!(sends[0].request["topic"], "recording-status");
    let kind = sends[0].request.get("kind").and_then(Value::as_str);
    assert!(matches!(kind, None | Some("RELIABLE")), "reliable (protobuf JSON omits the default, RELIABLE): {kind:?}");
    let payload = decode_data(&sends[0]);
    assert_eq!(
        payload,
        json!({"type": "recording_stopped", "reason": "limit_reached", "room": "lecture", "egress_id": "EG_1", "message": "Recording stopped: time limit reached"})
    );

    // The same delivery again (LiveKit retried), then egress_ended for the same egress.
    let (status, body) = deliver(&service, &updated).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    let (status, _) = deliver(&service, &egress_limit("EV_2", "lecture", "EG_1", "egress_ended")).await;
    assert_eq!(status, 200);
    assert_eq!(livekit.calls_to("SendData").await.len(), 1, "one notice per egress");

    // An egress that ended normally says nothing.
    let mut complete = egress_limit("EV_3", "lecture", "EG_2", "egress_ended");
    complete.egress_info.as_mut().unwrap().status = proto::EgressStatus::EgressComplete as i32;
    deliver(&service, &complete).await;
    assert_eq!(livekit.calls_to("SendData").await.len(), 1);
}

#[tokio::test]
async fn forged_expired_and_tampered_deliveries_are_rejected_with_nothing_sent() {
    let Setup { livekit, service, .. } = setup(true).await;
    livekit.add_room("lecture", &["alice"]).await;
    let body = body_of(&egress_limit("EV_9", "lecture", "EG_9", "egress_updated"));
    let other_body = body_of(&egress_limit("EV_9", "lecture", "EG_10", "egress_updated"));

    let wrong_secret = sign_webhook(KEY, "not-the-secret-not-the-secret-not-the", &body, json!({}));
    let wrong_key = sign_webhook("APIother", SECRET, &body, json!({}));
    let expired = sign_webhook(KEY, SECRET, &body, json!({"ttlSeconds": -3600}));
    let for_other_body = sign_webhook(KEY, SECRET, &other_body, json!({}));
    let wrong_digest =
        sign_webhook(KEY, SECRET, &body, json!({"sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}));
    // A participant token is signed with the same secret but carries no body digest.
    let participant = livekit_api::access_token::AccessToken::with_api_key(KEY, SECRET)
        .with_identity("mallory")
        .with_grants(livekit_api::access_token::VideoGrants {
            room_join: true,
            room: "lecture".into(),
            ..Default::default()
        })
        .to_jwt()
        .unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", wrong_secret.split('.').nth(1).unwrap());

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no authorization", None, "missing_authorization"),
        ("wrong secret", Some(wrong_secret), "invalid_signature"),
        ("wrong key", Some(wrong_key), "invalid_signature"),
        ("expired", Some(expired), "invalid_signature"),
        ("signed for another body", Some(for_other_body), "invalid_signature"),
        ("wrong sha256 claim", Some(wrong_digest), "invalid_signature"),
        ("participant token", Some(participant), "invalid_signature"),
        ("alg none", Some(alg_none), "invalid_signature"),
        ("garbage", Some("not-a-jwt".into()), "invalid_signature"),
    ];
    for (name, auth, code) in cases {
        let (status, response) = send(&service, delivery(&body, auth.as_deref())).await;
        assert_eq!(status, 401, "{name}: {response}");
        assert_eq!(response["error"]["code"], code, "{name}");
    }
    assert!(livekit.calls().await.is_empty(), "nothing reached LiveKit: {:?}", livekit.calls().await);

    // The genuine delivery, also with a `Bearer ` prefix, is accepted.
    let genuine = sign_webhook(KEY, SECRET, &body, json!({}));
    let (status, _) = send(&service, delivery(&body, Some(&format!("Bearer {genuine}")))).await;
    assert_eq!(status, 200);
    assert_eq!(livekit.calls_to("SendData").await.len(), 1);
}

#[tokio::test]
async fn malformed_deliveries_get_clear_errors() {
    let Setup { livekit, service, .. } = setup(false).await;
    let body = body_of(&event("room_started", "EV_1", "r"));
    let auth = sign_webhook(KEY, SECRET, &body, json!({}));
    let mut text = delivery(&body, Some(&auth));
    text.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(send(&service, text).await.0, 415);

    let not_json = "this is not json";
    let (status, response) =
        send(&service, delivery(not_json, Some(&sign_webhook(KEY, SECRET, not_json, json!({}))))).await;
    assert_eq!(
        (status, response["error"]["code"].as_str()),
        (400, Some("invalid_event")),
        "verified first, then parsed"
    );

    let huge = "x".repeat(WebhookSettings::default().max_body_bytes + 1);
    assert_eq!(send(&service, delivery(&huge, Some(&auth))).await.0, 413);
    let get = Request::get("/webhook").body(Body::Empty).unwrap();
    assert_eq!(send(&service, get).await.0, 405);

    let unknown = body_of(&event("room_exploded", "EV_2", "r"));
    let (status, response) =
        send(&service, delivery(&unknown, Some(&sign_webhook(KEY, SECRET, &unknown, json!({}))))).await;
    assert_eq!(
        (status, response["status"].as_str()),
        (200, Some("ignored")),
        "unknown events are acknowledged so LiveKit does not retry"
    );
    assert!(livekit.calls().await.is_empty());
}

#[tokio::test]
async fn sip_dial_in_lifecycle() {
    let Setup { livekit, service, .. } = setup(true).await;
    livekit.add_room("standup", &["alice"]).await;
    livekit.set_room_metadata("standup", r#"{"topic":"daily"}"#).await;
    livekit.add_room("other", &["carol"]).await;
    // A rule of another room and a rule nobody manages through us must survive.
    let foreign = proto::SipDispatchRuleInfo {
        rule: Some(proto::SipDispatchRule {
            rule: Some(proto::sip_dispatch_rule::Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
                room_name: "standup".into(),
                pin: "999".into(),
            })),
        }),
        name: "hand-made".into(),
        ..Default::default()
    };
    livekit.add_dispatch_rule(foreign).await;

    let mut first = joined("EV_1", "standup", "alice");
    first.room.as_mut().unwrap().metadata = r#"{"topic":"daily"}"#.into();
    let (status, body) = deliver(&service, &first).await;
    assert_eq!(status, 200, "{body}");
    let creates = livekit.calls_to("CreateSIPDispatchRule").await;
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].status, 200);
    let rule = &creates[0].request["dispatchRule"];
    assert_eq!(rule["trunkIds"], json!(["ST_trunk"]));
    let direct = &rule["rule"]["dispatchRuleDirect"];
    assert_eq!(direct["roomName"], "standup");
    let pin = direct["pin"].as_str().unwrap().to_string();
    assert!(pin.len() == 10 && pin.bytes().all(|c| c.is_ascii_digit()), "{pin}");
    let metadata: Value = serde_json::from_str(&livekit.room_metadata("standup").await.unwrap()).unwrap();
    assert_eq!(
        metadata,
        json!({"topic": "daily", "sip_dial_in": {"pin": pin, "number": "+15550100"}}),
        "PIN published, existing keys kept"
    );

    let (status, _) = deliver(&service, &joined("EV_2", "standup", "bob")).await;
    assert_eq!(status, 200);
    assert_eq!(livekit.calls_to("CreateSIPDispatchRule").await.len(), 1, "a second join creates nothing");

    // Someone leaves but the room is not empty: the rule stays.
    livekit.set_participants("standup", &["bob"]).await;
    deliver(&service, &event("participant_left", "EV_3", "standup")).await;
    assert!(livekit.calls_to("DeleteSIPDispatchRule").await.is_empty());

    // The room finishes: its rule is found through the store (LiveKit's list is never
    // read) and deleted with its PIN record; the hand-made rule stays.
    let (status, body) = deliver(&service, &event("room_finished", "EV_4", "standup")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["actions"][0], json!({"type": "dial_in_rules_deleted", "room": "standup", "count": 1}));
    assert_eq!(livekit.calls_to("DeleteSIPDispatchRule").await.len(), 1);
    let left: Vec<String> = livekit.dispatch_rules().await.iter().map(|r| r.name.clone()).collect();
    assert_eq!(left, vec!["hand-made".to_string()], "only the hand-made rule is left");
    assert!(livekit.calls_to("ListSIPDispatchRule").await.is_empty(), "no join or room end lists the rules");

    // participant_left on an empty room also cleans up.
    deliver(&service, &joined("EV_5", "other", "carol")).await;
    livekit.set_participants("other", &[]).await;
    deliver(&service, &event("participant_left", "EV_6", "other")).await;
    assert!(livekit.dispatch_rules().await.iter().all(|r| r.name == "hand-made"));
}

#[tokio::test]
async fn pin_collisions_are_retried_with_fresh_pins() {
    let Setup { livekit, service, .. } = setup(true).await;
    livekit.add_room("r", &["a"]).await;
    let conflict = "Conflicting SIP Dispatch Rules: same Trunk+Number+PIN combination for for \"<new>\" and \"SDR_x\"";
    livekit.fail_next("CreateSIPDispatchRule", "already_exists", conflict).await;
    livekit.fail_next("CreateSIPDispatchRule", "already_exists", conflict).await;
    let (status, body) = deliver(&service, &joined("EV_1", "r", "a")).await;
    assert_eq!(status, 200, "{body}");
    let creates = livekit.calls_to("CreateSIPDispatchRule").await;
    assert_eq!(creates.iter().map(|c| c.status).collect::<Vec<_>>(), vec![409, 409, 200]);
    let pins: std::collections::HashSet<&str> = creates
        .iter()
        .map(|c| c.request["dispatchRule"]["rule"]["dispatchRuleDirect"]["pin"].as_str().unwrap())
        .collect();
    assert_eq!(pins.len(), 3, "a fresh PIN each time");
    assert_eq!(livekit.dispatch_rules().await.len(), 1);
}

#[tokio::test]
async fn a_failed_cleanup_answers_503_and_the_retry_finishes_it() {
    let Setup { livekit, service, .. } = setup(true).await;
    livekit.add_room("r", &["a"]).await;
    deliver(&service, &joined("EV_1", "r", "a")).await;
    assert_eq!(livekit.dispatch_rules().await.len(), 1);
    livekit.fail_next("DeleteSIPDispatchRule", "internal", "database is down").await;
    let (status, body) = deliver(&service, &event("room_finished", "EV_2", "r")).await;
    assert_eq!(status, 503, "a retry by LiveKit can finish the job: {body}");
    assert_eq!(livekit.dispatch_rules().await.len(), 1);

    // LiveKit redelivers the same event: the failure released its lock.
    let (status, _) = deliver(&service, &event("room_finished", "EV_2", "r")).await;
    assert_eq!(status, 200);
    assert!(livekit.dispatch_rules().await.is_empty());
}

/// A room end that meets the room's rule still being created by a join: a retryable 503
/// of its own (not the store's), and LiveKit's retry finds what the join left.
#[tokio::test]
async fn a_room_end_during_the_rules_creation_answers_503_dial_in_in_progress() {
    let Setup { livekit, service, store, .. } = setup(true).await;
    livekit.add_room("r", &["a"]).await;
    let key = "webhook#sip-room#r";
    let creating = [("state".to_string(), "creating".to_string())].into_iter().collect();
    let lock_until = livekit_lambda_shared::state::now_millis() + 60_000;
    store.claim(key, &creating, Some(lock_until), u64::MAX / 2).await.unwrap();

    let body = body_of(&event("room_finished", "EV_1", "r"));
    let response = service.handle(delivery(&body, Some(&sign_webhook(KEY, SECRET, &body, json!({}))))).await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let answer: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(
        (response.status().as_u16(), answer["error"]["code"].as_str(), retry_after.as_deref()),
        (503, Some("dial_in_in_progress"), Some("1")),
        "{answer}"
    );
    assert!(store.get(key).await.unwrap().is_some(), "the join's lock is left alone");

    // The join gave up (its lock released): the retry has nothing to delete.
    store.delete(key).await.unwrap();
    let (status, body) = deliver(&service, &event("room_finished", "EV_1", "r")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["actions"][0], json!({"type": "dial_in_rules_deleted", "room": "r", "count": 0}));
}

/// A rule whose PIN could not be published is undone, so no room keeps a rule nobody can
/// dial; LiveKit's retry makes it afresh and publishes it.
#[tokio::test]
async fn an_unpublished_pin_is_undone_and_the_retry_publishes_it() {
    let Setup { livekit, service, .. } = setup(true).await;
    livekit.add_room("r", &["a"]).await;
    livekit.fail_next("UpdateRoomMetadata", "unavailable", "try again").await;
    let (status, body) = deliver(&service, &joined("EV_1", "r", "a")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("livekit_unavailable")), "{body}");
    assert!(livekit.dispatch_rules().await.is_empty(), "the unpublished rule was deleted");

    let (status, body) = deliver(&service, &joined("EV_1", "r", "a")).await;
    assert_eq!((status, body["actions"][0]["type"].as_str()), (200, Some("dial_in_rule_created")), "{body}");
    let rules = livekit.dispatch_rules().await;
    assert_eq!(rules.len(), 1);
    let (_, pin) = webhook_receiver::actions::dial_in::managed_rule(&rules[0]).unwrap();
    let metadata: Value = serde_json::from_str(&livekit.room_metadata("r").await.unwrap()).unwrap();
    assert_eq!(metadata["sip_dial_in"]["pin"], pin);
}

/// Rules made before the state table existed: the one-time reconciliation adopts the
/// rule of a live room, deletes the rules of rooms that are gone and a room's second
/// rule, and a second run has nothing left to do. After it, the room's end removes the
/// adopted rule through the store like any other.
#[tokio::test]
async fn reconciliation_adopts_or_removes_rules_made_before_the_table() {
    let Setup { livekit, service, store, credentials } = setup(true).await;
    livekit.add_room("live", &["a"]).await;
    let adopted = livekit.add_dispatch_rule(room_rule("live", "1111111111")).await;
    livekit.add_dispatch_rule(room_rule("live", "2222222222")).await;
    livekit.add_dispatch_rule(room_rule("gone", "3333333333")).await;
    let mut foreign = room_rule("live", "4444444444");
    foreign.metadata = String::new();
    livekit.add_dispatch_rule(foreign).await;

    let clients = ClientCache::new(Duration::from_secs(2)).clients(&credentials).await;
    let report = reconcile_dial_in(&clients, store.as_ref()).await.unwrap();
    assert_eq!(report, Reconciliation { managed_rules: 3, adopted: 1, kept: 0, deleted: 2 });
    let mut left: Vec<String> = livekit.dispatch_rules().await.into_iter().map(|r| r.sip_dispatch_rule_id).collect();
    left.sort();
    assert_eq!(left.len(), 2, "the adopted rule and the foreign one: {left:?}");
    assert!(left.contains(&adopted));

    let again = reconcile_dial_in(&clients, store.as_ref()).await.unwrap();
    assert_eq!(again, Reconciliation { managed_rules: 1, adopted: 0, kept: 1, deleted: 0 });

    // A join keeps the adopted rule; the room's end deletes it through the store.
    let (_, body) = deliver(&service, &joined("EV_1", "live", "a")).await;
    assert_eq!(body["actions"][0]["type"], "dial_in_rule_kept", "{body}");
    assert_eq!(body["actions"][0]["rule_id"], adopted.as_str());
    deliver(&service, &event("room_finished", "EV_2", "live")).await;
    let left: Vec<String> = livekit.dispatch_rules().await.into_iter().map(|r| r.sip_dispatch_rule_id).collect();
    assert_eq!(left.len(), 1, "only the foreign rule: {left:?}");
    assert!(!left.contains(&adopted));
}

#[tokio::test]
async fn sip_off_makes_no_sip_call() {
    let Setup { livekit, service, .. } = setup(false).await;
    livekit.add_room("r", &["a"]).await;
    for (i, kind) in ["participant_joined", "participant_left", "room_finished"].iter().enumerate() {
        let (status, _) = deliver(&service, &event(kind, &format!("EV_{i}"), "r")).await;
        assert_eq!(status, 200);
    }
    assert!(livekit.calls().await.is_empty(), "{:?}", livekit.calls().await);
}

#[tokio::test]
async fn livekit_down_answers_503_and_the_retry_acts_once() {
    let Setup { livekit, service, .. } = setup(false).await;
    livekit.add_room("lecture", &["a"]).await;
    livekit.set_unavailable(true).await;
    let limit = egress_limit("EV_1", "lecture", "EG_1", "egress_updated");
    let (status, body) = deliver(&service, &limit).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("livekit_unavailable")));
    livekit.set_unavailable(false).await;
    let (status, _) = deliver(&service, &limit).await;
    assert_eq!(status, 200);
    assert_eq!(livekit.calls_to("SendData").await.iter().filter(|c| c.status == 200).count(), 1);
}

#[tokio::test]
async fn livekit_unreachable_answers_503_within_the_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let credentials =
        Credentials::new(KEY, Secret::new(SECRET), "wss://lk.example.com", Some(&format!("http://127.0.0.1:{port}")))
            .unwrap();
    let settings = WebhookSettings { api_timeout: Duration::from_millis(500), ..WebhookSettings::default() };
    let service = WebhookService::new(settings, Arc::new(CredentialStore::fixed(credentials)));
    let started = std::time::Instant::now();
    let (status, _) = deliver(&service, &egress_limit("EV_1", "lecture", "EG_1", "egress_updated")).await;
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A webhook receiver reading SSM on moto, with a cache that never expires during the test.
async fn ssm_service(moto: &MotoServer, prefix: &str, forced_refresh_interval: Duration) -> WebhookService {
    let store = CredentialStore::new(
        CredentialSource::Ssm(SsmParameters::new(ssm_client_for(&moto.endpoint()), prefix)),
        CachePolicy { max_age: Duration::from_secs(3600), stale_limit: Duration::from_secs(3600) },
    );
    let settings = WebhookSettings { forced_refresh_interval, recording_notice: false, ..WebhookSettings::default() };
    let service = WebhookService::new(settings, Arc::new(store));
    service.warm_up().await;
    service
}

async fn forge_ten(service: &WebhookService, key: &str) {
    for i in 0..10 {
        let forged = body_of(&event("room_started", &format!("EV_F{key}{i}"), "r"));
        let auth = sign_webhook(key, "forged-forged-forged-forged-forged-00", &forged, json!({}));
        let (status, response) = send(service, delivery(&forged, Some(&auth))).await;
        assert_eq!((status, response["error"]["code"].as_str()), (401, Some("invalid_signature")), "{response}");
    }
}

#[tokio::test]
async fn a_new_key_is_picked_up_at_once_and_forgeries_cannot_hammer_ssm() {
    let moto = MotoServer::start();
    let prefix = "/webhook-rotation/livekit";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let service = ssm_service(&moto, prefix, Duration::from_secs(60)).await;

    // A rotation adds a key that verifies (docs/key-rotation.md); LiveKit signs with it
    // before this warm container's cache expires: one forced refresh, accepted at once.
    let new = ("APIwebhookNew", "rotated-webhook-secret-rotated-webhook-9");
    let keys = format!("{}: {}\n{KEY}: {SECRET}\n", new.0, new.1);
    moto.put(&format!("{prefix}/api-keys"), &keys, aws_sdk_ssm::types::ParameterType::SecureString).await;
    let body = body_of(&event("room_started", "EV_1", "r"));
    let (status, response) = send(&service, delivery(&body, Some(&sign_webhook(new.0, new.1, &body, json!({}))))).await;
    assert_eq!(status, 200, "signed with the new key, accepted at once: {response}");
    assert_eq!(moto.get_parameters_calls(prefix).len(), 2, "cold start + one forced refresh");
    // The old key still verifies (it is in api-keys): no SSM call.
    let body = body_of(&event("room_started", "EV_2", "r"));
    assert_eq!(send(&service, delivery(&body, Some(&sign_webhook(KEY, SECRET, &body, json!({}))))).await.0, 200);

    forge_ten(&service, "APIunknown").await;
    assert_eq!(
        moto.get_parameters_calls(prefix).len(),
        2,
        "this interval's forced refresh is spent: forgeries add no SSM call"
    );

    // Forged with a known key: never a refresh, even when every interval has passed.
    let known_prefix = "/webhook-forgeries-known/livekit";
    moto.put_livekit(known_prefix, KEY, SECRET, "wss://lk.example.com").await;
    let known = ssm_service(&moto, known_prefix, Duration::from_millis(1)).await;
    forge_ten(&known, KEY).await;
    assert_eq!(
        moto.get_parameters_calls(known_prefix).len(),
        1,
        "cold start only: a known key's forgery costs nothing"
    );

    // Naming unknown keys: ten forgeries cost at most one extra call in the interval.
    let fresh_prefix = "/webhook-forgeries/livekit";
    moto.put_livekit(fresh_prefix, KEY, SECRET, "wss://lk.example.com").await;
    let fresh = ssm_service(&moto, fresh_prefix, Duration::from_secs(60)).await;
    forge_ten(&fresh, "APIunknown").await;
    assert_eq!(
        moto.get_parameters_calls(fresh_prefix).len(),
        2,
        "cold start + at most one forced refresh per interval"
    );
}

/// The receiver on DynamoDB (moto_server) through a proxy that injects store faults.
async fn on_dynamodb(sip: bool) -> (Setup, FaultProxy, MotoServer) {
    let moto = MotoServer::start_serial();
    let table = "webhook-state";
    create_table(&moto, table).await;
    let proxy = FaultProxy::start(moto.port).await;
    let store: SharedStore = Arc::new(dynamo_store(&proxy.endpoint(), table, Duration::from_millis(500)).await);
    (setup_with_store(sip, store).await, proxy, moto)
}

/// A throttled, failing or stuck store: LiveKit gets a retryable 503 and nothing is
/// done; once the store is back, LiveKit's retry acts exactly once.
#[tokio::test]
async fn store_faults_answer_a_retryable_503_and_lose_nothing() {
    let (Setup { livekit, service, .. }, proxy, _moto) = on_dynamodb(true).await;
    livekit.add_room("lecture", &["a"]).await;
    let limit = egress_limit("EV_1", "lecture", "EG_1", "egress_updated");
    for fault in [Fault::Throttled, Fault::ServerError, Fault::Hang] {
        proxy.set(fault);
        let started = std::time::Instant::now();
        let (status, body) = deliver(&service, &limit).await;
        assert_eq!((status, body["error"]["code"].as_str()), (503, Some("state_unavailable")), "{fault:?}: {body}");
        assert!(started.elapsed() < Duration::from_secs(3), "{fault:?}: bounded by the store timeout");
        let (status, body) = deliver(&service, &joined("EV_2", "lecture", "a")).await;
        assert_eq!(status, 503, "{fault:?}: {body}");
    }
    assert!(livekit.calls().await.is_empty(), "nothing acted while the store was out: {:?}", livekit.calls().await);

    proxy.set(Fault::None);
    let (status, body) = deliver(&service, &limit).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
    let (status, body) = deliver(&service, &joined("EV_2", "lecture", "a")).await;
    assert_eq!((status, body["actions"][0]["type"].as_str()), (200, Some("dial_in_rule_created")), "{body}");
    let (status, body) = deliver(&service, &limit).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")), "{body}");
    assert_eq!(livekit.calls_to("SendData").await.len(), 1);
    assert_eq!(livekit.dispatch_rules().await.len(), 1);
}

/// Many deliveries of one egress's limit at once (egress_updated and egress_ended, each
/// several times) through one table: one notice; the others are told to retry or that it
/// is a duplicate, never a second notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_on_dynamodb_send_one_notice() {
    let (Setup { livekit, service, .. }, _proxy, _moto) = on_dynamodb(false).await;
    livekit.add_room("lecture", &["a"]).await;
    let updated = egress_limit("EV_1", "lecture", "EG_1", "egress_updated");
    let ended = egress_limit("EV_2", "lecture", "EG_1", "egress_ended");
    // Signed first (the Node SDK runs as a child process), then delivered all at once.
    let signed: Vec<(String, String)> = [&updated, &ended]
        .iter()
        .map(|event| {
            let body = body_of(event);
            let auth = sign_webhook(KEY, SECRET, &body, json!({}));
            (body, auth)
        })
        .collect();
    let deliveries = (0..8).map(|i| {
        let service = service.clone();
        let (body, auth) = signed[i % 2].clone();
        async move { send(&service, delivery(&body, Some(&auth))).await }
    });
    let answers = spawn_all(deliveries).await;
    for (status, body) in &answers {
        let code = body["error"]["code"].as_str().or(body["status"].as_str());
        assert!(
            matches!((status, code), (200, Some("ok" | "duplicate")) | (503, Some("event_in_progress"))),
            "{status} {body}"
        );
    }
    assert_eq!(answers.iter().filter(|(_, body)| body["status"] == "ok").count(), 1);
    assert_eq!(livekit.calls_to("SendData").await.len(), 1);
}

/// Runs every future on its own task at once; their outputs in order.
async fn spawn_all<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<T> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
