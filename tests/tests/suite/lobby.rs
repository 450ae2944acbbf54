//! The waiting room end to end (issue 29, docs/waiting-room.md): a guest knocks, the
//! moderators present are told (and only they), a moderator lists and decides, the guest's
//! poll collects the token once. Every flow runs on both paths a deployment has, as for
//! authentication (`auth.rs`): over HTTP to the local server (its authorizer checks bearer
//! tokens as API Gateway's does) and as the API Gateway events the functions receive; the
//! two transcripts must agree. LiveKit is the Twirp test server (no LiveKit server binary
//! exists here): it records every call, and holds the room's participants with the
//! attributes their tokens gave them. The fleet case runs two containers on one DynamoDB
//! table on moto_server.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use livekit_api::access_token::AccessToken;
use livekit_lambda_shared::routes::{self, Function};
use livekit_protocol as proto;
use serde_json::{json, Value};
use wire_tests::fleet::{create_table, dynamo_store};
use wire_tests::livekit_server::TwirpTestServer;
use wire_tests::{http, verify_with_node_sdk, MotoServer};

use crate::auth::{deploy_with, gateway_event, user_claims, Deployment, KEY, SECRET};

pub(crate) const LINK_KEYS: &str = "links-1: first-room-link-secret-of-32-chars!!!";
pub(crate) const ROOM: &str = "consultation";

/// Which way a request reaches the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// Over HTTP to the local server.
    Local,
    /// As the API Gateway event Lambda receives, into the function the route table names.
    Lambda,
}

pub(crate) const PATHS: [Path; 2] = [Path::Local, Path::Lambda];

/// A reply: status, error code, `Retry-After`, JSON body.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub code: String,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Reply {
    fn new(status: u16, retry_after: Option<String>, bytes: &[u8]) -> Self {
        let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        Self { status, code: body["error"]["code"].as_str().unwrap_or_default().to_string(), retry_after, body }
    }

    /// What both paths must agree on.
    pub(crate) fn shape(&self) -> (u16, String) {
        (self.status, self.code.clone())
    }
}

/// A deployment with room links and the waiting room on, a LiveKit test server whose room
/// `consultation` holds two moderators (by the attribute our tokens give them) and one
/// participant, and room policy by claim (`rooms`), so a signed-in user can be one the room
/// keeps out.
pub(crate) struct Lobby {
    pub d: Deployment,
    pub livekit: TwirpTestServer,
}

pub(crate) async fn lobby_with(
    extra: &[(&str, &str)],
    adapt: impl FnOnce(local_server::LocalRoutes) -> local_server::LocalRoutes,
) -> Lobby {
    let livekit = TwirpTestServer::start(KEY, SECRET).await;
    livekit.add_room(ROOM, &["user:host-1", "user:host-2", "user:editor-1"]).await;
    for host in ["user:host-1", "user:host-2"] {
        livekit.set_participant_attributes(ROOM, host, &[("auth.role", "moderator")]).await;
    }
    livekit.set_participant_attributes(ROOM, "user:editor-1", &[("auth.role", "participant")]).await;
    let url = livekit.url();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("ROOM_LINKS", "on"),
        ("ROOM_LINK_URL", "https://meet.example.com/join/{room}#{link}"),
        ("ROOM_LINK_KEYS", LINK_KEYS),
        ("LOBBY", "on"),
        ("LOBBY_POLL_SECONDS", "1"),
        ("LOBBY_HEARTBEAT_SECONDS", "5"),
        ("AUTH_ROOMS_CLAIM", "rooms"),
        ("LIVEKIT_API_URL", &url),
    ];
    pairs.extend_from_slice(extra);
    Lobby { d: deploy_with(&pairs, adapt).await, livekit }
}

pub(crate) async fn lobby(extra: &[(&str, &str)]) -> Lobby {
    lobby_with(extra, |routes| routes).await
}

impl Lobby {
    /// A signed-in user's access token, allowed into `rooms`; a moderator with `moderator`.
    pub(crate) fn user(&self, sub: &str, rooms: &[&str], moderator: bool) -> String {
        let mut claims = user_claims(sub, "openid livekit/join");
        claims["rooms"] = json!(rooms);
        if moderator {
            claims["groups"] = json!(["moderators"]);
        }
        self.d.issuer.mint(claims, json!({}))
    }

    /// One request on `path`. Boxed: a test awaits dozens of these, and in a debug build
    /// each inline future would take its own room on the test thread's stack.
    pub(crate) fn send<'a>(
        &'a self,
        path: Path,
        method: &'a str,
        uri: &'a str,
        body: Option<Value>,
        bearer: Option<&'a str>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send + 'a>> {
        Box::pin(self.send_now(path, method, uri, body, bearer))
    }

    async fn send_now(&self, path: Path, method: &str, uri: &str, body: Option<Value>, bearer: Option<&str>) -> Reply {
        match path {
            Path::Local => {
                let authorization = bearer.map(|token| format!("Bearer {token}"));
                let mut headers = vec![];
                if let Some(value) = &authorization {
                    headers.push(("authorization", value.as_str()));
                }
                if body.is_some() {
                    headers.push(("content-type", "application/json"));
                }
                let text = body.as_ref().map(Value::to_string).unwrap_or_default();
                let response = http(self.d.port, method, uri, &headers, text.as_bytes()).await;
                Reply::new(response.status, response.header("retry-after").map(String::from), &response.body)
            }
            Path::Lambda => {
                let request = gateway_event(method, uri, body.as_ref(), bearer);
                let routes = &self.d.routes;
                let function = routes::find(request.uri().path()).map(|m| m.route.function);
                let response = match function {
                    Some(Function::RoomControls) => routes.room_controls.handle(request).await,
                    Some(Function::WebhookReceiver) => routes.webhook.handle(request).await,
                    _ => routes.token.handle(request).await,
                };
                let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                Reply::new(response.status().as_u16(), retry_after, response.body().as_ref())
            }
        }
    }

    /// A knock link for `room`, created by a user allowed into it (on the local server).
    pub(crate) async fn knock_link(&self, room: &str) -> (String, String) {
        let editor = self.user("editor-1", &[room], false);
        let created = self
            .send(
                Path::Local,
                "POST",
                &format!("/rooms/{room}/links"),
                Some(json!({"admission": "knock"})),
                Some(&editor),
            )
            .await;
        assert_eq!((created.status, created.body["admission"].as_str()), (201, Some("knock")), "{created:?}");
        (created.body["link"].as_str().unwrap().to_string(), created.body["link_id"].as_str().unwrap().to_string())
    }

    pub(crate) async fn knock(&self, path: Path, link: &str, name: &str) -> Reply {
        self.send(path, "POST", "/guest/lobby", Some(json!({"link": link, "name": name})), None).await
    }

    pub(crate) async fn poll(&self, path: Path, method: &str, id: &str) -> Reply {
        let body = (method == "POST").then(|| json!({}));
        self.send(path, method, &format!("/guest/lobby/{id}"), body, None).await
    }

    pub(crate) async fn decide(&self, path: Path, room: &str, id: &str, decision: &str, bearer: &str) -> Reply {
        let uri = format!("/rooms/{room}/lobby/{id}");
        self.send(path, "PUT", &uri, Some(json!({"decision": decision})), Some(bearer)).await
    }

    pub(crate) async fn list(&self, path: Path, room: &str, bearer: &str) -> Reply {
        self.send(path, "GET", &format!("/rooms/{room}/lobby"), None, Some(bearer)).await
    }

    /// The data messages LiveKit was asked to send so far.
    pub(crate) async fn notices(&self) -> Vec<Value> {
        self.livekit.calls_to("SendData").await.into_iter().map(|call| call.request).collect()
    }

    /// A room_finished delivery, signed as LiveKit signs it, to the webhook receiver.
    pub(crate) async fn finish_room(&self, path: Path, room: &str) -> Reply {
        let event = proto::WebhookEvent {
            event: "room_finished".into(),
            id: format!("EV_finished_{room}_{path:?}"),
            created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
            room: Some(proto::Room { name: room.into(), sid: format!("RM_{room}"), ..Default::default() }),
            ..Default::default()
        };
        let body = serde_json::to_string(&event).unwrap();
        let digest =
            base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()));
        let auth = AccessToken::with_api_key(KEY, SECRET).with_sha256(&digest).to_jwt().unwrap();
        match path {
            Path::Local => {
                let headers = [("content-type", "application/webhook+json"), ("authorization", auth.as_str())];
                let response = http(self.d.port, "POST", "/webhook", &headers, body.as_bytes()).await;
                Reply::new(response.status, None, &response.body)
            }
            Path::Lambda => {
                let request = lambda_http::http::Request::post("/webhook")
                    .header("content-type", "application/webhook+json")
                    .header("authorization", auth)
                    .body(lambda_http::Body::from(body))
                    .unwrap();
                let response = self.d.routes.webhook.handle(request).await;
                Reply::new(response.status().as_u16(), None, response.body().as_ref())
            }
        }
    }
}

fn data_of(notice: &Value) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD.decode(notice["data"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn identities(notice: &Value) -> BTreeSet<String> {
    notice["destinationIdentities"]
        .as_array()
        .or_else(|| notice["destination_identities"].as_array())
        .map(|list| list.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The token in a 200/201 reply, verified by LiveKit's Node SDK.
pub(crate) fn verified_token(reply: &Reply) -> Value {
    let jwt = reply.body["token"].as_str().or_else(|| reply.body["participant_token"].as_str()).expect("a token");
    verify_with_node_sdk(KEY, SECRET, &[jwt]).remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_knocks_the_moderators_present_are_told_and_an_admitted_guest_collects_one_token() {
    let l = lobby(&[]).await;
    let host = l.user("host-1", &[ROOM], true);
    let editor = l.user("editor-1", &[ROOM], false);
    let other_host = l.user("host-9", &["boardroom"], true);
    let mut transcripts = Vec::new();
    for path in PATHS {
        for form in ["GET", "POST"] {
            let mut transcript = Vec::new();
            let (link, link_id) = l.knock_link(ROOM).await;
            // A knock link is not redeemed directly.
            let direct = l.send(path, "GET", &format!("/guest/token?link={link}"), None, None).await;
            assert_eq!(direct.shape(), (403, "knock_required".into()), "{direct:?}");
            transcript.push(direct.shape());

            let before = l.notices().await.len();
            let knocked = l.knock(path, &link, "Client").await;
            assert_eq!(knocked.status, 202, "{knocked:?}");
            let id = knocked.body["request_id"].as_str().unwrap().to_string();
            assert_eq!(id.len(), 26, "130 bits");
            assert_eq!(knocked.body["moderators_present"], true);
            assert_eq!((knocked.retry_after.as_deref(), knocked.body["retry_after"].as_u64()), (Some("1"), Some(1)));
            transcript.push(knocked.shape());

            // One data message, to the moderators present only, with the name and the id.
            let notices = l.notices().await;
            assert_eq!(notices.len(), before + 1, "one SendData per knock");
            let notice = &notices[before];
            assert_eq!(notice["room"], ROOM);
            assert_eq!(identities(notice), BTreeSet::from(["user:host-1".to_string(), "user:host-2".to_string()]));
            assert_eq!(notice["topic"], "lobby");
            // RELIABLE is protobuf's zero, so its JSON leaves it out; LOSSY would be named.
            assert!(matches!(notice.get("kind").and_then(Value::as_str), None | Some("RELIABLE")), "{notice}");
            assert_eq!(data_of(notice), json!({"type": "lobby_knock", "request_id": id, "name": "Client"}));

            let waiting = l.poll(path, form, &id).await;
            assert_eq!((waiting.status, waiting.body["status"].as_str()), (202, Some("waiting")), "{waiting:?}");
            assert_eq!(waiting.retry_after.as_deref(), Some("1"));
            transcript.push(waiting.shape());

            // Who may see and decide: a moderator of this room only.
            for (bearer, code) in [(&editor, "not_moderator"), (&other_host, "room_not_allowed")] {
                let listed = l.list(path, ROOM, bearer).await;
                let decided = l.decide(path, ROOM, &id, "admit", bearer).await;
                assert_eq!((listed.status, listed.code.as_str()), (403, code), "{listed:?}");
                assert_eq!((decided.status, decided.code.as_str()), (403, code), "{decided:?}");
                transcript.extend([listed.shape(), decided.shape()]);
            }
            let listed = l.list(path, ROOM, &host).await;
            assert_eq!(listed.status, 200, "{listed:?}");
            let entry = listed.body["waiting"].as_array().unwrap().iter().find(|w| w["request_id"] == id.as_str());
            let entry = entry.unwrap_or_else(|| panic!("{id} is listed: {listed:?}"));
            assert_eq!((entry["name"].as_str(), entry["kind"].as_str()), (Some("Client"), Some("guest")));

            // A forged id, or this request through another room, gets nothing.
            let forged = "a".repeat(26);
            let other_room = l.decide(path, "boardroom", &id, "admit", &other_host).await;
            for reply in
                [l.poll(path, form, &forged).await, l.decide(path, ROOM, &forged, "admit", &host).await, other_room]
            {
                assert_eq!(reply.shape(), (404, "lobby_request_not_found".into()), "{reply:?}");
                transcript.push(reply.shape());
            }
            let bad = l
                .send(
                    path,
                    "PUT",
                    &format!("/rooms/{ROOM}/lobby/{id}"),
                    Some(json!({"decision": "maybe"})),
                    Some(&host),
                )
                .await;
            assert_eq!(bad.shape(), (400, "invalid_body".into()));

            let admitted = l.decide(path, ROOM, &id, "admit", &host).await;
            assert_eq!((admitted.status, admitted.body["status"].as_str()), (200, Some("admitted")), "{admitted:?}");
            let late = l.decide(path, ROOM, &id, "deny", &host).await;
            assert_eq!(late.shape(), (409, "lobby_decided".into()), "{late:?}");
            transcript.extend([admitted.shape(), late.shape()]);

            // The poll collects the token, in /token's shape for that method, once.
            let collected = l.poll(path, form, &id).await;
            let expected_status = if form == "GET" { 200 } else { 201 };
            assert_eq!(collected.status, expected_status, "{collected:?}");
            if form == "GET" {
                assert_eq!(collected.body["room"], ROOM);
                assert!(collected.body["url"].is_string() && collected.body["participant"].is_string());
            } else {
                assert_eq!(
                    (collected.body["room_name"].as_str(), collected.body["participant_name"].as_str()),
                    (Some(ROOM), Some("Client"))
                );
                assert!(collected.body["server_url"].is_string());
            }
            let verified = verified_token(&collected);
            let claims = &verified["claims"];
            assert_eq!(claims["video"]["room"], ROOM, "{verified}");
            assert_eq!(claims["name"], "Client");
            let identity = claims["sub"].as_str().unwrap();
            assert!(identity.starts_with(&format!("guest:{link_id}:")), "the server's choice: {identity}");
            assert_eq!(claims["attributes"]["auth.invited_by"], "user:editor-1");
            assert_eq!(claims["attributes"]["auth.link_id"], link_id.as_str());
            assert_eq!(claims["attributes"]["auth.admitted_by"], "user:host-1");
            assert!(claims["attributes"].get("auth.role").is_none() && claims["video"].get("roomAdmin").is_none());
            transcript.push(collected.shape());
            let again = l.poll(path, form, &id).await;
            assert_eq!(again.shape(), (410, "lobby_collected".into()), "one admission, one token");
            transcript.push(again.shape());
            let listed = l.list(path, ROOM, &host).await;
            assert!(listed.body["waiting"].as_array().unwrap().iter().all(|w| w["request_id"] != id.as_str()));
            transcripts.push(((path, form), transcript));
        }
    }
    let (local, lambda): (Vec<_>, Vec<_>) = transcripts.into_iter().partition(|((path, _), _)| *path == Path::Local);
    for ((_, local_form), local) in &local {
        let (_, lambda) = lambda.iter().find(|((_, form), _)| form == local_form).unwrap();
        assert_eq!(local, lambda, "the local server and Lambda agree ({local_form})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_a_closed_tab_and_the_end_of_the_meeting_each_end_a_request() {
    let l = lobby(&[]).await;
    let host = l.user("host-1", &[ROOM], true);
    let mut transcripts = Vec::new();
    for path in PATHS {
        let mut transcript = Vec::new();
        let (link, _) = l.knock_link(ROOM).await;

        let denied = l.knock(path, &link, "Denied").await;
        let id = denied.body["request_id"].as_str().unwrap().to_string();
        assert_eq!(l.decide(path, ROOM, &id, "deny", &host).await.status, 200);
        let reply = l.poll(path, "GET", &id).await;
        assert_eq!(reply.shape(), (403, "lobby_denied".into()), "{reply:?}");
        transcript.push(reply.shape());

        // The room finishes: everyone waiting lapses, the list is empty, the next
        // meeting's guests wait as usual.
        let waiting = l.knock(path, &link, "Early").await;
        let id = waiting.body["request_id"].as_str().unwrap().to_string();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let finished = l.finish_room(path, ROOM).await;
        assert_eq!(finished.status, 200, "{finished:?}");
        assert!(
            finished.body["actions"].as_array().unwrap().contains(&json!({"type": "lobby_closed", "room": ROOM})),
            "{finished:?}"
        );
        let listed = l.list(path, ROOM, &host).await;
        assert_eq!((listed.status, listed.body["waiting"].clone()), (200, json!([])), "{listed:?}");
        let reply = l.poll(path, "GET", &id).await;
        assert_eq!(reply.shape(), (410, "lobby_expired".into()), "{reply:?}");
        let decided = l.decide(path, ROOM, &id, "admit", &host).await;
        assert_eq!(decided.shape(), (409, "lobby_decided".into()), "an expired request is decided: {decided:?}");
        transcript.extend([reply.shape(), decided.shape()]);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let next = l.knock(path, &link, "Next").await;
        assert_eq!(next.status, 202);
        let next_id = next.body["request_id"].as_str().unwrap().to_string();
        assert_eq!(l.poll(path, "GET", &next_id).await.status, 202, "a knock after the end waits for the next meeting");
        assert_eq!(l.decide(path, ROOM, &next_id, "deny", &host).await.status, 200);
        transcripts.push(transcript);
    }
    assert_eq!(transcripts[0], transcripts[1], "the local server and Lambda agree");

    // A guest who stops asking (the tab was closed) lapses after the heartbeat (5 s here),
    // on both paths at once.
    let (link, _) = l.knock_link(ROOM).await;
    let mut ids = Vec::new();
    for path in PATHS {
        ids.push((path, l.knock(path, &link, "Gone").await.body["request_id"].as_str().unwrap().to_string()));
    }
    let listed = l.list(Path::Local, ROOM, &host).await;
    assert_eq!(listed.body["waiting"].as_array().unwrap().len(), 2, "{listed:?}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let listed = l.list(Path::Lambda, ROOM, &host).await;
    assert_eq!(listed.body["waiting"], json!([]), "lapsed requests are not listed: {listed:?}");
    for (path, id) in ids {
        let reply = l.poll(path, "GET", &id).await;
        assert_eq!(reply.shape(), (410, "lobby_expired".into()), "{path:?}: {reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_users_the_room_keeps_out_knock_too_and_refused_knocks_tell_nobody() {
    let l = lobby(&[("LOBBY_MAX_PER_GUEST", "2")]).await;
    let host = l.user("host-1", &[ROOM], true);
    let mut transcripts = Vec::new();
    for path in PATHS {
        let mut transcript = Vec::new();
        // A user the room's policy refuses at /token knocks instead; the identity is theirs.
        let visitor = l.user(&format!("visitor-{path:?}"), &["elsewhere"], false);
        let refused = l.send(path, "GET", &format!("/token?room={ROOM}"), None, Some(&visitor)).await;
        assert_eq!(refused.shape(), (403, "room_not_allowed".into()));
        let before = l.notices().await.len();
        let knocked = l.send(path, "POST", &format!("/rooms/{ROOM}/lobby"), None, Some(&visitor)).await;
        assert_eq!(knocked.status, 202, "{knocked:?}");
        assert_eq!(l.notices().await.len(), before + 1);
        let id = knocked.body["request_id"].as_str().unwrap().to_string();
        let listed = l.list(path, ROOM, &host).await;
        let entry = listed.body["waiting"].as_array().unwrap().iter().find(|w| w["request_id"] == id.as_str()).cloned();
        assert_eq!(
            entry.as_ref().map(|e| (e["kind"].clone(), e["name"].clone())),
            Some((json!("user"), json!("Jane Doe")))
        );
        assert_eq!(l.decide(path, ROOM, &id, "admit", &host).await.status, 200);
        let collected = l.poll(path, "GET", &id).await;
        assert_eq!(collected.status, 200, "{collected:?}");
        let claims = verified_token(&collected)["claims"].clone();
        assert_eq!(claims["sub"], format!("user:visitor-{path:?}"));
        assert_eq!(claims["attributes"]["auth.user_id"], format!("visitor-{path:?}"));
        assert_eq!(claims["attributes"]["auth.admitted_by"], "user:host-1");
        transcript.extend([knocked.shape(), collected.shape()]);

        // Refused knocks: a user who may enter, an application, a direct link, no name, a
        // bad link, too many from one guest. None tells the moderators anything.
        let before = l.notices().await.len();
        let member = l.user("member", &[ROOM], false);
        let app = l.d.client_token("app-backend", "app-secret");
        let editor = l.user("editor-1", &[ROOM], false);
        let direct = l.send(Path::Local, "POST", &format!("/rooms/{ROOM}/links"), Some(json!({})), Some(&editor)).await;
        let direct_link = direct.body["link"].as_str().unwrap().to_string();
        let (link, _) = l.knock_link(ROOM).await;
        let cases = vec![
            (l.send(path, "POST", &format!("/rooms/{ROOM}/lobby"), None, Some(&member)).await, 409, "lobby_not_needed"),
            (l.send(path, "POST", &format!("/rooms/{ROOM}/lobby"), None, Some(&app)).await, 403, "knock_users_only"),
            (l.knock(path, &direct_link, "Client").await, 409, "lobby_not_needed"),
            (l.send(path, "POST", "/guest/lobby", Some(json!({"link": link})), None).await, 400, "name_required"),
            (
                l.send(path, "POST", "/guest/lobby", Some(json!({"link": link, "name": "\u{200b}"})), None).await,
                400,
                "name_required",
            ),
            (l.knock(path, "not-a-link", "Client").await, 401, "link_invalid"),
            (
                l.send(path, "POST", "/guest/lobby", Some(json!({"link": link, "name": "x", "room": "y"})), None).await,
                400,
                "invalid_body",
            ),
            (l.send(path, "POST", "/guest/lobby", None, None).await, 400, "invalid_body"),
        ];
        for (reply, status, code) in cases {
            assert_eq!(reply.shape(), (status, code.into()), "{reply:?}");
            transcript.push(reply.shape());
        }
        assert_eq!(l.notices().await.len(), before, "a refused knock tells nobody");
        let first = l.knock(path, &link, "One").await;
        let second = l.knock(path, &link, "Two").await;
        let third = l.knock(path, &link, "Three").await;
        assert_eq!((first.status, second.status), (202, 202));
        assert_eq!(
            (third.shape(), third.retry_after.as_deref()),
            ((429, "too_many_requests".into()), Some("30")),
            "{third:?}"
        );
        assert_eq!(l.notices().await.len(), before + 2);
        transcript.push(third.shape());
        for reply in [first, second] {
            l.decide(path, ROOM, reply.body["request_id"].as_str().unwrap(), "deny", &host).await;
        }
        transcripts.push(transcript);
    }
    assert_eq!(transcripts[0], transcripts[1], "the local server and Lambda agree");

    // Nobody there to admit yet: the knock waits and says so, and nothing is sent.
    let (link, _) = l.knock_link("empty-room").await;
    let before = l.notices().await.len();
    let early = l.knock(Path::Local, &link, "Early bird").await;
    assert_eq!((early.status, early.body["moderators_present"].as_bool()), (202, Some(false)), "{early:?}");
    assert_eq!(l.notices().await.len(), before, "no moderator, no message");
    assert_eq!(l.poll(Path::Lambda, "GET", early.body["request_id"].as_str().unwrap()).await.status, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_guests_two_moderators_two_containers_every_request_one_outcome_and_one_token() {
    let moto = MotoServer::start_serial();
    create_table(&moto, "lobby-fleet").await;
    let store: livekit_lambda_shared::state::SharedStore =
        Arc::new(dynamo_store(&moto.endpoint(), "lobby-fleet", Duration::from_secs(3)).await);
    let adapt = |store: livekit_lambda_shared::state::SharedStore| {
        move |mut routes: local_server::LocalRoutes| {
            routes.room_controls = routes.room_controls.with_shared_store(store);
            routes
        }
    };
    // Two containers of one fleet, one table (the same LiveKit behind both).
    // One shared link for all twenty, and no heartbeat lapse while moto is busy.
    let extra = [("LOBBY_MAX_PER_GUEST", "20"), ("LOBBY_HEARTBEAT_SECONDS", "120")];
    let a = Arc::new(lobby_with(&extra, adapt(store.clone())).await);
    let b = Arc::new(lobby_with(&extra, adapt(store.clone())).await);
    let link = a.knock_link(ROOM).await.0;
    // LiveKit's room of container b has the same moderators; each container's local server
    // trusts its own test issuer, so each moderator is minted where they call.
    let (mod_a, mod_b) = (a.user("host-1", &[ROOM], true), b.user("host-2", &[ROOM], true));

    let knocks: Vec<_> = (0..20)
        .map(|i| {
            let (container, link) = (if i % 2 == 0 { a.clone() } else { b.clone() }, link.clone());
            tokio::spawn(async move { container.knock(Path::Local, &link, &format!("Guest {i}")).await })
        })
        .collect();
    let mut ids = Vec::new();
    for knock in knocks {
        let reply = knock.await.unwrap();
        assert_eq!(reply.status, 202, "{reply:?}");
        ids.push(reply.body["request_id"].as_str().unwrap().to_string());
    }
    let listed = b.list(Path::Lambda, ROOM, &mod_b).await;
    let listed: BTreeSet<String> = listed.body["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, ids.iter().cloned().collect(), "every knock is listed, on the other container too");

    // Moderator 1 goes down the list admitting, on container a, while moderator 2 goes up it
    // denying, on container b, at the same time: they meet in the middle.
    let admitting = {
        let (a, mod_a, ids) = (a.clone(), mod_a.clone(), ids.clone());
        tokio::spawn(async move {
            let mut replies = Vec::new();
            for id in ids {
                replies.push((id.clone(), a.decide(Path::Local, ROOM, &id, "admit", &mod_a).await));
            }
            replies
        })
    };
    let denying = {
        let (b, mod_b, ids) = (b.clone(), mod_b.clone(), ids.clone());
        tokio::spawn(async move {
            let mut replies = Vec::new();
            for id in ids.into_iter().rev() {
                replies.push((id.clone(), b.decide(Path::Lambda, ROOM, &id, "deny", &mod_b).await));
            }
            replies
        })
    };
    let (admits, denies) = (admitting.await.unwrap(), denying.await.unwrap());
    let mut outcome = std::collections::BTreeMap::new();
    for (id, admit) in &admits {
        let deny = &denies.iter().find(|(other, _)| other == id).unwrap().1;
        let winners: Vec<&str> = [(admit, "admitted"), (deny, "denied")]
            .into_iter()
            .filter(|(reply, _)| reply.status == 200)
            .map(|(_, status)| status)
            .collect();
        assert_eq!(winners.len(), 1, "one decision per request: {admit:?} / {deny:?}");
        let loser = if admit.status == 200 { deny } else { admit };
        assert_eq!(loser.shape(), (409, "lobby_decided".into()), "{loser:?}");
        assert_eq!(loser.body["error"]["message"].as_str().map(|m| m.ends_with(winners[0])), Some(true), "{loser:?}");
        outcome.insert(id.clone(), winners[0]);
    }
    assert_eq!(outcome.len(), 20, "none lost");

    // Each guest polls twice at once, once at each container: an admitted guest gets one
    // token, a denied one none.
    let polls: Vec<_> = ids
        .iter()
        .map(|id| {
            let (a, b, id) = (a.clone(), b.clone(), id.clone());
            tokio::spawn(async move {
                let (x, y) = tokio::join!(a.poll(Path::Local, "GET", &id), b.poll(Path::Lambda, "POST", &id));
                (id, x, y)
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for poll in polls {
        let (id, x, y) = poll.await.unwrap();
        match outcome[&id] {
            "admitted" => {
                let got: Vec<&Reply> = [&x, &y].into_iter().filter(|r| r.status == 200 || r.status == 201).collect();
                assert_eq!(got.len(), 1, "exactly one token per admission: {x:?} / {y:?}");
                let other = if x.status < 300 { &y } else { &x };
                assert_eq!(other.shape(), (410, "lobby_collected".into()));
                tokens.push(
                    got[0].body["token"].as_str().or(got[0].body["participant_token"].as_str()).unwrap().to_string(),
                );
            }
            _ => {
                assert_eq!((x.shape(), y.shape()), ((403, "lobby_denied".into()), (403, "lobby_denied".into())));
            }
        }
    }
    let admitted = outcome.values().filter(|o| **o == "admitted").count();
    assert_eq!(tokens.len(), admitted, "{outcome:?}");
    let verified = verify_with_node_sdk(KEY, SECRET, &tokens.iter().map(String::as_str).collect::<Vec<_>>());
    let identities: BTreeSet<String> =
        verified.iter().map(|v| v["claims"]["sub"].as_str().unwrap().to_string()).collect();
    assert_eq!(identities.len(), admitted, "each admitted guest is somebody else");
    assert_eq!(a.list(Path::Local, ROOM, &mod_a).await.body["waiting"], json!([]), "nobody left waiting");
    eprintln!("lobby fleet: 20 knocks over 2 containers, {admitted} admitted, {} denied", 20 - admitted);
}
