//! Every sample under `events/` goes through `lambda_http`'s real API Gateway (HTTP API,
//! payload v2) deserialisation into the handler of the function that serves its path,
//! so the samples users invoke with `sam local invoke -e events/…` never rot. A new file
//! without an expectation fails. Webhook samples are signed with the dev credentials;
//! LiveKit's API is the Twirp test server.

use std::sync::Arc;

use livekit_api::access_token::TokenVerifier;
use livekit_lambda_shared::web::CorsPolicy;
use livekit_lambda_shared::{CredentialStore, Credentials, KeySet, Secret};
use room_controls::{RoomControlsService, RoomControlsSettings};
use serde_json::Value;
use subtitle_dispatcher::{SubtitleService, SubtitleSettings};
use token_generator::links::LinkSettings;
use token_generator::{TokenService, TokenSettings};
use webhook_receiver::{WebhookService, WebhookSettings};
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::{
    event_files, event_name, expected_status, function_for_path, is_signed_in_deployment_event, load_event,
    signed_in_settings, SAMPLE_ROOM_LINK_KEY,
};

fn verify(token: &Value) -> livekit_api::access_token::Claims {
    TokenVerifier::with_api_key("devkey", "secret")
        .verify(token.as_str().expect("token is a string"))
        .expect("token verifies")
}

#[tokio::test]
async fn every_sample_event_gets_its_documented_answer() {
    let settings =
        TokenSettings { cors: CorsPolicy::Origins(vec!["http://localhost:3000".into()]), ..TokenSettings::default() };
    // Signed in, with room links on (the samples' link is signed by the sample key).
    let links = LinkSettings {
        enabled: true,
        url_template: "http://localhost:3000/join/{room}#{link}".into(),
        ..LinkSettings::default()
    };
    let link_keys = KeySet::from_pairs([SAMPLE_ROOM_LINK_KEY]);
    let signed_in = TokenService::new(
        TokenSettings { auth: signed_in_settings(), links, ..settings.clone() },
        Arc::new(CredentialStore::fixed(Credentials::development().with_room_link_keys(link_keys.clone()).unwrap())),
    );
    let token = TokenService::new(settings, Arc::new(CredentialStore::fixed(Credentials::development())));
    let livekit = TwirpTestServer::start("devkey", "secret").await;
    livekit.add_room("demo-room", &["jane-1"]).await;
    livekit.add_room("standup", &[]).await;
    let credentials =
        Credentials::new("devkey", Secret::new("secret"), "ws://localhost:7880", Some(&livekit.url())).unwrap();
    let store = Arc::new(CredentialStore::fixed(credentials));
    let webhook = WebhookService::new(WebhookSettings::default(), store.clone());
    let subtitle_settings = SubtitleSettings {
        agent_name: Some("transcriber".into()),
        languages: vec!["en".into()],
        ..SubtitleSettings::default()
    };
    let subtitles = SubtitleService::new(subtitle_settings, store.clone());
    // The waiting room on, as the template sets it with AuthMode=jwt and Lobby=on; the
    // knock's link is signed by the sample key.
    let mut lobby_settings =
        RoomControlsSettings { cors: CorsPolicy::Origins(vec!["http://localhost:3000".into()]), ..Default::default() };
    lobby_settings.auth = signed_in_settings();
    lobby_settings.lobby.enabled = true;
    lobby_settings.moderation.enabled = true;
    let lobby_credentials =
        Credentials::new("devkey", Secret::new("secret"), "ws://localhost:7880", Some(&livekit.url())).unwrap();
    let room_controls = RoomControlsService::new(
        lobby_settings,
        Arc::new(CredentialStore::fixed(lobby_credentials.with_room_link_keys(link_keys.clone()).unwrap())),
    );

    let files = event_files();
    assert!(files.len() >= 11, "events/ lost its samples: {files:?}");
    for path in files {
        let name = event_name(&path);
        let request = load_event(&path);
        let response = match function_for_path(request.uri().path()) {
            "webhook-receiver" => webhook.handle(request).await,
            "subtitle-dispatcher" => subtitles.handle(request).await,
            "room-controls" => room_controls.handle(request).await,
            _ if is_signed_in_deployment_event(&path) => signed_in.handle(request).await,
            _ => token.handle(request).await,
        };
        let status = response.status().as_u16();
        assert_eq!(status, expected_status(&name), "{name}: {}", String::from_utf8_lossy(response.body().as_ref()));
        let headers = response.headers().clone();
        let body: Value = if response.body().as_ref().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(response.body().as_ref()).unwrap()
        };
        assert_eq!(headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{name}");
        match name.as_str() {
            "health.json" => assert_eq!(body, serde_json::json!({"status": "ok"})),
            "token-get.json" => {
                assert_eq!(
                    (body["room"].as_str(), body["participant"].as_str(), body["url"].as_str()),
                    (Some("demo-room"), Some("Jane"), Some("ws://localhost:7880"))
                );
                let claims = verify(&body["token"]);
                assert_eq!(
                    (claims.sub.as_str(), claims.name.as_str(), claims.video.room.as_str()),
                    ("Jane", "Jane", "demo-room")
                );
                assert_eq!(headers["access-control-allow-origin"], "http://localhost:3000");
            }
            "token-post-standard.json" => {
                assert_eq!(body["server_url"], "ws://localhost:7880");
                assert_eq!(
                    (body["room_name"].as_str(), body["participant_name"].as_str()),
                    (Some("demo-room"), Some("Jane"))
                );
                let claims = verify(&body["participant_token"]);
                assert_eq!((claims.sub.as_str(), claims.name.as_str()), ("jane-1", "Jane"));
                assert_eq!(claims.attributes.get("role").map(String::as_str), Some("host"));
            }
            "token-post-empty.json" => {
                let claims = verify(&body["participant_token"]);
                assert!(claims.video.room.starts_with("room-") && claims.sub.starts_with("participant-"), "{claims:?}");
                assert_eq!(body["room_name"].as_str(), Some(claims.video.room.as_str()));
            }
            "token-get-signed-in.json" => {
                // Identity, name and attributes from the verified claims; the group grants roomAdmin.
                let claims = verify(&body["token"]);
                assert_eq!(claims.sub, "user:8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b");
                assert_eq!(body["participant"].as_str(), Some(claims.sub.as_str()));
                assert_eq!(claims.name, "Jane Doe");
                assert_eq!(claims.attributes["auth.user_id"], "8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b");
                assert_eq!(claims.attributes["auth.email"], "jane@example.com");
                assert!(claims.video.room_admin && claims.video.room == "demo-room");
            }
            "token-post-machine.json" => {
                let claims = verify(&body["participant_token"]);
                assert_eq!((claims.sub.as_str(), claims.name.as_str()), ("customer-42", "Customer 42"));
                assert_eq!(claims.attributes["auth.owner"], "owner:7k9machineclientid0example");
                assert_eq!(claims.attributes["plan"], "pro");
                assert!(!claims.video.room_admin);
            }
            "token-bad-room.json" => assert_eq!(body["error"]["code"], "invalid_room"),
            "guest-token-get.json" => {
                let claims = verify(&body["token"]);
                assert_eq!((claims.video.room.as_str(), claims.name.as_str()), ("demo-room", "Client"));
                assert!(claims.sub.starts_with("guest:samplelink0000001:"), "{}", claims.sub);
                assert_eq!(claims.attributes["auth.invited_by"], "user:8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b");
                assert_eq!(claims.attributes["auth.link_id"], "samplelink0000001");
                assert!(!claims.video.room_admin);
            }
            "room-link-create.json" => {
                let link = body["link"].as_str().expect("the link");
                let url = body["url"].as_str().expect("the url");
                assert_eq!(url, format!("http://localhost:3000/join/demo-room#{link}"));
                let claims =
                    livekit_lambda_shared::room_link::verify(link, &link_keys).expect("a link the sample key verifies");
                assert_eq!((claims.room.as_str(), claims.name.as_str()), ("demo-room", "Client"));
                assert_eq!(claims.by, "user:8f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b");
                assert_eq!(claims.exp - claims.iat, 3600);
                assert_eq!((body["revocable"].as_bool(), body["role"].as_str()), (Some(false), Some("participant")));
            }
            "room-link-revoke.json" => assert_eq!(body["error"]["code"], "link_state_unavailable"),
            "room-link-create-preflight.json" | "room-link-revoke-preflight.json" => {
                assert_eq!(headers["access-control-allow-origin"], "http://localhost:3000");
            }
            "token-options-preflight.json" => {
                assert_eq!(headers["access-control-allow-origin"], "http://localhost:3000");
                assert!(headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
            }
            "webhook-egress-limit-reached.json" => {
                assert_eq!(body["status"], "ok", "{body}");
                let sends = livekit.calls_to("SendData").await;
                assert_eq!(sends.len(), 1);
                assert_eq!(sends[0].request["room"], "demo-room");
            }
            "webhook-participant-joined.json" => assert_eq!(body["event"], "participant_joined"),
            "webhook-bad-signature.json" => assert_eq!(body["error"]["code"], "invalid_signature"),
            "subtitles-start.json" => {
                assert_eq!(body["created"], true, "{body}");
                let creates = livekit.calls_to("CreateDispatch").await;
                assert_eq!(creates.len(), 1);
                assert_eq!(creates[0].request["metadata"], r#"{"language":"en","requested_by":"jane-1"}"#);
            }
            "subtitles-stop.json" => assert_eq!(livekit.calls_to("DeleteDispatch").await.len(), 1),
            "guest-lobby-knock.json" => {
                assert_eq!((body["status"].as_str(), body["room"].as_str()), (Some("waiting"), Some("demo-room")));
                assert_eq!(body["request_id"].as_str().map(str::len), Some(26), "{body}");
                // demo-room has no moderator in it: nobody to tell yet.
                assert_eq!(body["moderators_present"], false);
                assert!(headers.contains_key("retry-after"));
                assert_eq!(headers["access-control-allow-origin"], "http://localhost:3000");
            }
            // A fresh container knows no request: the sample shows the shape of the answer.
            "guest-lobby-wait.json" | "room-lobby-decide.json" => {
                assert_eq!(body["error"]["code"], "lobby_request_not_found")
            }
            // The samples run in one process here, so the sample knock waits (under `sam local
            // invoke`, a fresh container, the list is empty: nobody waiting is no error).
            "room-lobby-list.json" => {
                assert_eq!(body["room"], "demo-room");
                let waiting = body["waiting"].as_array().expect("a list");
                assert_eq!(waiting.iter().map(|w| w["name"].as_str()).collect::<Vec<_>>(), [Some("Client")], "{body}");
            }
            "room-end.json" => {
                let deleted = livekit.calls_to("DeleteRoom").await;
                assert_eq!(deleted.iter().map(|c| c.request["room"].clone()).collect::<Vec<_>>(), ["standup"]);
            }
            "room-participant-mute.json" => {
                // jane-1 publishes nothing in the test server: nothing to mute, and that is no error.
                assert_eq!(body, serde_json::json!({"room": "demo-room", "identity": "jane-1", "muted": []}), "{body}");
            }
            "room-removal-lift.json" => assert_eq!(body["error"]["code"], "not_removed"),
            "room-me-hand.json" => {
                let updates = livekit.calls_to("UpdateParticipant").await;
                assert_eq!(updates.len(), 1, "{updates:?}");
                assert_eq!(updates[0].request["attributes"]["auth.hand"], "raised");
                assert_eq!(body["identity"], "jane-1");
            }
            "room-end-preflight.json" | "room-participant-preflight.json" | "room-removal-preflight.json" => {
                assert_eq!(headers["access-control-allow-origin"], "http://localhost:3000");
            }
            "room-lobby-preflight.json" | "room-lobby-decide-preflight.json" => {
                assert_eq!(headers["access-control-allow-origin"], "http://localhost:3000");
            }
            other => panic!("events/{other} has no expectation in tests/tests/suite/events.rs: add one"),
        }
    }
}
