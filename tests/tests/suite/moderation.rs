//! Moderator controls end to end (issue 30, docs/moderators.md): a moderator of the room
//! mutes, changes a role, removes (and the removal sticks: `/token`, `/guest/token` and the
//! waiting room refuse the member until a moderator lifts it), ends the meeting; a
//! participant raises a hand and renames themselves with their own LiveKit token. As in
//! `lobby`, each flow runs through the local server and as API Gateway Lambda events, and the
//! transcripts must agree; LiveKit is the Twirp test server, which checks each call's grants
//! (`roomAdmin` for that room; `roomCreate` for DeleteRoom) and records the calls and their
//! arguments. The fleet case runs two containers on one moto DynamoDB table.

use std::sync::Arc;
use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol::TrackSource;
use serde_json::{json, Value};
use wire_tests::fleet::{create_table, dynamo_store};
use wire_tests::MotoServer;

use crate::auth::{KEY, SECRET};
use crate::lobby::{lobby, lobby_with, verified_token, Lobby, Path, Reply, PATHS, ROOM};

/// The moderator controls and the waiting room on; moderators publish screens too.
fn moderation_on() -> Vec<(&'static str, &'static str)> {
    vec![("MODERATION", "on"), ("AUTH_ADMIN_PUBLISH_SOURCES", "camera,microphone,screen_share")]
}

impl Lobby {
    async fn patch(&self, path: Path, identity: &str, change: Value, bearer: &str) -> Reply {
        let uri = format!("/rooms/{ROOM}/participants/{}", urlencode(identity));
        self.send(path, "PATCH", &uri, Some(change), Some(bearer)).await
    }

    async fn remove(&self, path: Path, identity: &str, bearer: &str) -> Reply {
        let uri = format!("/rooms/{ROOM}/participants/{}", urlencode(identity));
        self.send(path, "DELETE", &uri, None, Some(bearer)).await
    }

    async fn lift(&self, path: Path, identity: &str, bearer: &str) -> Reply {
        let uri = format!("/rooms/{ROOM}/removals/{}", urlencode(identity));
        self.send(path, "DELETE", &uri, None, Some(bearer)).await
    }

    async fn me(&self, path: Path, room: &str, change: Value, participant_token: Option<&str>) -> Reply {
        self.send(path, "PATCH", &format!("/rooms/{room}/me"), Some(change), participant_token).await
    }

    /// `/token` for a user allowed into the room; the verified claims when one is minted.
    async fn token_for(&self, path: Path, bearer: &str) -> (Reply, Option<Value>) {
        let reply = self.send(path, "GET", &format!("/token?room={ROOM}"), None, Some(bearer)).await;
        let claims = (reply.status == 200).then(|| verified_token(&reply)["claims"].clone());
        (reply, claims)
    }

    async fn calls(&self, method: &str) -> Vec<Value> {
        self.livekit.calls_to(method).await.into_iter().map(|c| c.request).collect()
    }

    async fn call_count(&self) -> usize {
        self.livekit.calls().await.len()
    }
}

/// A path segment for an identity (`user:x` as it is; `/` and the like encoded).
fn urlencode(identity: &str) -> String {
    identity.replace('%', "%25").replace('/', "%2F").replace(' ', "%20")
}

fn sources(permission: &Value) -> Vec<String> {
    permission["canPublishSources"]
        .as_array()
        .or_else(|| permission["can_publish_sources"].as_array())
        .map(|list| list.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// One path's moderator flow; the transcript of what it answered.
async fn moderator_flow(l: &Lobby, path: Path) -> Vec<(u16, String)> {
    let host = l.user("host-1", &[ROOM], true);
    let editor = l.user("editor-1", &[ROOM], false);
    let other_host = l.user("host-9", &["boardroom"], true);
    let mut transcript = Vec::new();
    let alice = format!("user:alice-{path:?}");
    l.livekit.set_participants(ROOM, &["user:host-1", "user:host-2", "user:editor-1", &alice]).await;
    l.livekit
        .set_participant_tracks(
            ROOM,
            &alice,
            &[
                ("TR_mic", true, TrackSource::Microphone),
                ("TR_cam", false, TrackSource::Camera),
                ("TR_screen", false, TrackSource::ScreenShare),
            ],
        )
        .await;

    // Mute: all audio, then one track by sid; an unknown track or participant is a 404.
    let before = l.calls("MutePublishedTrack").await.len();
    let audio = l.patch(path, &alice, json!({"mute": "audio"}), &host).await;
    assert_eq!((audio.status, audio.body["muted"].clone()), (200, json!(["TR_mic"])), "{audio:?}");
    let screen = l.patch(path, &alice, json!({"mute": {"track_sid": "TR_screen"}}), &host).await;
    assert_eq!(screen.body["muted"], json!(["TR_screen"]), "{screen:?}");
    let video = l.patch(path, &alice, json!({"mute": "video"}), &host).await;
    assert_eq!(video.body["muted"], json!(["TR_cam"]), "the screen is muted already: {video:?}");
    let mutes = l.calls("MutePublishedTrack").await;
    assert_eq!(mutes.len(), before + 3);
    for (call, sid) in mutes[before..].iter().zip(["TR_mic", "TR_screen", "TR_cam"]) {
        assert_eq!((call["room"].as_str(), call["identity"].as_str()), (Some(ROOM), Some(alice.as_str())));
        assert_eq!((call["trackSid"].as_str(), call["muted"].as_bool()), (Some(sid), Some(true)), "{call}");
    }
    let unknown_track = l.patch(path, &alice, json!({"mute": {"track_sid": "TR_nope"}}), &host).await;
    let absent = l.patch(path, "user:nobody", json!({"mute": "all"}), &host).await;
    let nothing = l.patch(path, &alice, json!({}), &host).await;
    let bad = l.patch(path, &alice, json!({"mute": "loud"}), &host).await;
    for (reply, status, code) in [
        (&unknown_track, 404, "track_not_found"),
        (&absent, 404, "participant_not_found"),
        (&nothing, 400, "nothing_to_do"),
        (&bad, 400, "invalid_body"),
    ] {
        assert_eq!(reply.shape(), (status, code.into()), "{reply:?}");
    }
    transcript.extend([audio.shape(), screen.shape(), unknown_track.shape(), absent.shape(), nothing.shape()]);

    // A role: LiveKit gets the attribute and the role's publish sources, and the next
    // token minted for the participant carries the role (and roomAdmin with it).
    let promoted = l.patch(path, &alice, json!({"role": "moderator"}), &host).await;
    assert_eq!((promoted.status, promoted.body["role"].as_str()), (200, Some("moderator")), "{promoted:?}");
    let update = l.calls("UpdateParticipant").await.pop().unwrap();
    assert_eq!(update["identity"], alice.as_str());
    assert_eq!(update["attributes"]["auth.role"], "moderator");
    assert_eq!(sources(&update["permission"]), ["CAMERA", "MICROPHONE", "SCREEN_SHARE"], "{update}");
    assert_eq!(update["permission"]["canPublish"], true);
    let alice_token = l.user(&format!("alice-{path:?}"), &[ROOM], false);
    let (_, claims) = l.token_for(path, &alice_token).await;
    let claims = claims.expect("a token");
    assert_eq!(
        (claims["video"]["roomAdmin"].as_bool(), claims["attributes"]["auth.role"].as_str()),
        (Some(true), Some("moderator"))
    );
    assert_eq!(claims["video"]["canPublishSources"], json!(["camera", "microphone", "screen_share"]));
    let demoted = l.patch(path, &alice, json!({"role": "participant"}), &host).await;
    assert_eq!(demoted.status, 200);
    let update = l.calls("UpdateParticipant").await.pop().unwrap();
    assert_eq!(update["attributes"]["auth.role"], "", "an empty value deletes the attribute in LiveKit");
    assert_eq!(sources(&update["permission"]), ["CAMERA", "MICROPHONE"]);
    let (_, claims) = l.token_for(path, &alice_token).await;
    let claims = claims.expect("a token");
    assert!(claims["video"].get("roomAdmin").is_none() && claims["attributes"].get("auth.role").is_none(), "{claims}");
    transcript.extend([promoted.shape(), demoted.shape()]);

    // A moderator by their claims, demoted by another: their next token follows the room.
    let host_2 = l.user("host-2", &[ROOM], true);
    assert_eq!(l.token_for(path, &host_2).await.1.unwrap()["video"]["roomAdmin"], true);
    assert_eq!(l.patch(path, "user:host-2", json!({"role": "participant"}), &host).await.status, 200);
    assert!(l.token_for(path, &host_2).await.1.unwrap()["video"].get("roomAdmin").is_none());
    assert_eq!(l.patch(path, "user:host-2", json!({"role": "moderator"}), &host).await.status, 200);

    // Not by accident: a moderator neither demotes nor removes themselves.
    let calls = l.call_count().await;
    let self_demote = l.patch(path, "user:host-1", json!({"role": "participant"}), &host).await;
    let self_remove = l.remove(path, "user:host-1", &host).await;
    for reply in [&self_demote, &self_remove] {
        assert_eq!(reply.shape(), (409, "cannot_target_self".into()), "{reply:?}");
    }
    // Who may: a moderator of this room only, and nothing reaches LiveKit otherwise.
    for (bearer, code) in [(&editor, "not_moderator"), (&other_host, "room_not_allowed")] {
        for reply in [
            l.patch(path, &alice, json!({"mute": "all"}), bearer).await,
            l.patch(path, &alice, json!({"role": "moderator"}), bearer).await,
            l.remove(path, &alice, bearer).await,
            l.lift(path, &alice, bearer).await,
            l.send(path, "DELETE", &format!("/rooms/{ROOM}"), None, Some(bearer)).await,
        ] {
            assert_eq!(reply.shape(), (403, code.into()), "{reply:?}");
            transcript.push(reply.shape());
        }
    }
    let unauthenticated = l.send(path, "DELETE", &format!("/rooms/{ROOM}"), None, None).await;
    assert_eq!(unauthenticated.status, 401, "{unauthenticated:?}");
    assert_eq!(l.call_count().await, calls, "refused requests call LiveKit for nothing");
    transcript.extend([self_demote.shape(), self_remove.shape(), unauthenticated.shape()]);

    // Ending the meeting: DeleteRoom, once it exists; again, nothing left to end.
    let ending = format!("ending-{path:?}");
    l.livekit.add_room(&ending, &["user:host-1"]).await;
    let host_there = l.user("host-1", &[&ending], true);
    let ended = l.send(path, "DELETE", &format!("/rooms/{ending}"), None, Some(&host_there)).await;
    assert_eq!(ended.status, 204, "{ended:?}");
    assert!(!l.livekit.has_room(&ending).await);
    assert_eq!(l.calls("DeleteRoom").await.last().unwrap()["room"], ending.as_str());
    let again = l.send(path, "DELETE", &format!("/rooms/{ending}"), None, Some(&host_there)).await;
    assert_eq!(again.status, 204, "already over: {again:?}");
    transcript.extend([ended.shape(), again.shape()]);
    transcript
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_mute_change_roles_and_end_the_meeting_and_livekit_hears_exactly_that() {
    let l = lobby(&moderation_on()).await;
    let host = l.user("host-1", &[ROOM], true);
    let mut transcripts = Vec::new();
    for path in PATHS {
        transcripts.push(moderator_flow(&l, path).await);
    }
    assert_eq!(transcripts[0], transcripts[1], "the local server and Lambda agree");

    // Who may start a room: by default no token carries roomCreate; with
    // ROOM_CREATION=moderators, moderators' do and nobody else's.
    let (_, claims) = l.token_for(Path::Local, &host).await;
    assert!(claims.unwrap()["video"].get("roomCreate").is_none());
    let strict = lobby(&[("MODERATION", "on"), ("ROOM_CREATION", "moderators")]).await;
    let (host, editor) = (strict.user("host-1", &[ROOM], true), strict.user("editor-1", &[ROOM], false));
    assert_eq!(strict.token_for(Path::Lambda, &host).await.1.unwrap()["video"]["roomCreate"], true);
    assert!(strict.token_for(Path::Local, &editor).await.1.unwrap()["video"].get("roomCreate").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_sticks_at_token_link_and_waiting_room_until_a_moderator_lifts_it() {
    let l = lobby(&moderation_on()).await;
    let host = l.user("host-1", &[ROOM], true);
    let mut transcripts = Vec::new();
    for path in PATHS {
        let mut transcript = Vec::new();
        let sub = format!("visitor-{path:?}");
        let identity = format!("user:{sub}");
        let visitor = l.user(&sub, &[ROOM], false);
        let (before, _) = l.token_for(path, &visitor).await;
        assert_eq!(before.status, 200);
        l.livekit.set_participants(ROOM, &["user:host-1", "user:host-2", &identity]).await;

        let removed = l.remove(path, &identity, &host).await;
        assert_eq!((removed.status, removed.body["was_present"].as_bool()), (200, Some(true)), "{removed:?}");
        let revoke = removed.body["revoke_token_ts"].as_u64().unwrap();
        let call = l.calls("RemoveParticipant").await.pop().unwrap();
        assert_eq!((call["room"].as_str(), call["identity"].as_str()), (Some(ROOM), Some(identity.as_str())));
        assert_eq!(call["revokeTokenTs"].as_str().map(|t| t.parse::<u64>().unwrap()), Some(revoke), "{call}");
        assert!(l.livekit.participant(ROOM, &identity).await.is_none(), "out of the room");

        // Kept out: /token, the waiting room (a user the room would admit is refused as
        // removed, not sent to /token), and their own LiveKit token acts no more.
        let (token, _) = l.token_for(path, &visitor).await;
        let knock = l.send(path, "POST", &format!("/rooms/{ROOM}/lobby"), None, Some(&visitor)).await;
        let own = AccessToken::with_api_key(KEY, SECRET)
            .with_identity(&identity)
            .with_grants(VideoGrants { room_join: true, room: ROOM.into(), ..Default::default() })
            .to_jwt()
            .unwrap();
        let me = l.me(path, ROOM, json!({"hand": "raised"}), Some(&own)).await;
        for reply in [&token, &knock, &me] {
            assert_eq!(reply.shape(), (403, "removed_from_room".into()), "{reply:?}");
            transcript.push(reply.shape());
        }
        // Removing again is the same removal; someone not in the room can be kept out too.
        let again = l.remove(path, &identity, &host).await;
        assert_eq!((again.status, again.body["was_present"].as_bool()), (200, Some(false)));

        // A guest who came by link is kept out by the link's family: redeeming the same
        // link again draws a new identity and still gets nothing; so does knocking with it.
        let editor = l.user("editor-1", &[ROOM], false);
        let link = l.send(Path::Local, "POST", &format!("/rooms/{ROOM}/links"), Some(json!({})), Some(&editor)).await;
        let (link, link_id) =
            (link.body["link"].as_str().unwrap().to_string(), link.body["link_id"].as_str().unwrap().to_string());
        let redeemed = l.send(path, "GET", &format!("/guest/token?link={link}"), None, None).await;
        let guest = verified_token(&redeemed)["claims"]["sub"].as_str().unwrap().to_string();
        assert!(guest.starts_with(&format!("guest:{link_id}:")));
        assert_eq!(l.remove(path, &guest, &host).await.body["was_present"], false, "not joined yet");
        let back = l.send(path, "GET", &format!("/guest/token?link={link}"), None, None).await;
        assert_eq!(back.shape(), (403, "removed_from_room".into()), "{back:?}");
        let (knock_link, knock_link_id) = l.knock_link(ROOM).await;
        let first = l.knock(path, &knock_link, "Client").await;
        assert_eq!(l.decide(path, ROOM, first.body["request_id"].as_str().unwrap(), "admit", &host).await.status, 200);
        let knocked_guest = verified_token(&l.poll(path, "GET", first.body["request_id"].as_str().unwrap()).await)
            ["claims"]["sub"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(knocked_guest.starts_with(&format!("guest:{knock_link_id}:")));
        l.remove(path, &knocked_guest, &host).await;
        let knock_again = l.knock(path, &knock_link, "Client").await;
        assert_eq!(knock_again.shape(), (403, "removed_from_room".into()), "{knock_again:?}");
        transcript.extend([back.shape(), knock_again.shape()]);

        // Lifted: in again, with a token LiveKit accepts at once (nbf after the revocation).
        assert_eq!(l.lift(path, &identity, &host).await.status, 204);
        let (token, claims) = l.token_for(path, &visitor).await;
        assert_eq!(token.status, 200, "{token:?}");
        let nbf = claims.unwrap()["nbf"].as_u64().unwrap();
        assert!(nbf > revoke, "nbf {nbf} after revoke_token_ts {revoke}");
        assert_eq!(l.lift(path, &identity, &host).await.shape(), (404, "not_removed".into()));
        assert_eq!(l.lift(path, &guest, &host).await.status, 204);
        assert_eq!(l.send(path, "GET", &format!("/guest/token?link={link}"), None, None).await.status, 200);
        transcript.push(token.shape());
        transcripts.push(transcript);
    }
    assert_eq!(transcripts[0], transcripts[1], "the local server and Lambda agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_raise_hands_and_rename_with_their_own_token_and_nothing_else() {
    let l = lobby(&moderation_on()).await;
    let token_for = |room: &str, secret: &str, ttl: Duration| {
        AccessToken::with_api_key(KEY, secret)
            .with_identity("user:editor-1")
            .with_ttl(ttl)
            .with_grants(VideoGrants { room_join: true, room: room.into(), ..Default::default() })
            .to_jwt()
            .unwrap()
    };
    let own = token_for(ROOM, SECRET, Duration::from_secs(600));
    let mut transcripts = Vec::new();
    for path in PATHS {
        let raised = l.me(path, ROOM, json!({"hand": "raised"}), Some(&own)).await;
        assert_eq!((raised.status, raised.body["hand"].as_str()), (200, Some("raised")), "{raised:?}");
        let update = l.calls("UpdateParticipant").await.pop().unwrap();
        assert_eq!(
            (update["identity"].as_str(), update["attributes"]["auth.hand"].as_str()),
            (Some("user:editor-1"), Some("raised"))
        );
        assert!(update.get("permission").is_none_or(Value::is_null), "a hand changes no permission: {update}");
        let attributes = l.livekit.participant(ROOM, "user:editor-1").await.unwrap().attributes;
        assert_eq!(attributes.get("auth.hand").map(String::as_str), Some("raised"));
        let lowered = l.me(path, ROOM, json!({"hand": "lowered"}), Some(&own)).await;
        assert_eq!(lowered.status, 200);
        assert!(!l.livekit.participant(ROOM, "user:editor-1").await.unwrap().attributes.contains_key("auth.hand"));
        let renamed = l.me(path, ROOM, json!({"name": "Ed"}), Some(&own)).await;
        assert_eq!(renamed.status, 200);
        assert_eq!(l.livekit.participant(ROOM, "user:editor-1").await.unwrap().name, "Ed");

        let calls = l.call_count().await;
        let elsewhere = token_for("boardroom", SECRET, Duration::from_secs(600));
        let forged = token_for(ROOM, "not-the-deployments-secret-0123456789", Duration::from_secs(600));
        let refusals = [
            (l.me(path, ROOM, json!({"hand": "raised"}), Some(&elsewhere)).await, 403, "token_for_another_room"),
            (l.me(path, ROOM, json!({"hand": "raised"}), Some(&forged)).await, 401, "invalid_token"),
            (l.me(path, ROOM, json!({"hand": "raised"}), None).await, 401, "missing_token"),
            (l.me(path, ROOM, json!({}), Some(&own)).await, 400, "nothing_to_do"),
            (l.me(path, ROOM, json!({"hand": "waving"}), Some(&own)).await, 400, "invalid_body"),
            (l.me(path, ROOM, json!({"role": "moderator"}), Some(&own)).await, 400, "invalid_body"),
            (l.me(path, ROOM, json!({"name": "\u{202e}evil"}), Some(&own)).await, 400, "invalid_name"),
        ];
        let mut transcript = vec![raised.shape(), lowered.shape(), renamed.shape()];
        for (reply, status, code) in refusals {
            assert_eq!(reply.shape(), (status, code.into()), "{reply:?}");
            transcript.push(reply.shape());
        }
        assert_eq!(l.call_count().await, calls, "no LiveKit call for a refused request");
        transcripts.push(transcript);
    }
    assert_eq!(transcripts[0], transcripts[1], "the local server and Lambda agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removal_recorded_by_one_container_is_honoured_by_another() {
    let moto = MotoServer::start_serial();
    create_table(&moto, "moderation-fleet").await;
    let store: livekit_lambda_shared::state::SharedStore =
        Arc::new(dynamo_store(&moto.endpoint(), "moderation-fleet", Duration::from_secs(3)).await);
    let adapt = |store: livekit_lambda_shared::state::SharedStore| {
        move |mut routes: local_server::LocalRoutes| {
            routes.room_controls = routes.room_controls.with_shared_store(store.clone());
            routes.token = routes.token.with_member_store(store);
            routes
        }
    };
    let a = lobby_with(&moderation_on(), adapt(store.clone())).await;
    let b = lobby_with(&moderation_on(), adapt(store.clone())).await;
    let (host_a, host_b) = (a.user("host-1", &[ROOM], true), b.user("host-1", &[ROOM], true));
    let (visitor_a, visitor_b) = (a.user("visitor", &[ROOM], false), b.user("visitor", &[ROOM], false));
    assert_eq!(a.remove(Path::Local, "user:visitor", &host_a).await.status, 200);
    assert_eq!(b.token_for(Path::Lambda, &visitor_b).await.0.shape(), (403, "removed_from_room".into()));
    assert_eq!(b.token_for(Path::Local, &visitor_b).await.0.shape(), (403, "removed_from_room".into()));
    assert_eq!(b.lift(Path::Lambda, "user:visitor", &host_b).await.status, 204);
    assert_eq!(a.token_for(Path::Local, &visitor_a).await.0.status, 200);
    // A role given on one container is the next token's on the other.
    assert_eq!(
        a.patch(Path::Local, "user:visitor", json!({"role": "moderator"}), &host_a).await.status,
        404,
        "not in a's LiveKit room"
    );
    a.livekit.set_participants(ROOM, &["user:visitor"]).await;
    assert_eq!(a.patch(Path::Local, "user:visitor", json!({"role": "moderator"}), &host_a).await.status, 200);
    assert_eq!(b.token_for(Path::Lambda, &visitor_b).await.1.unwrap()["video"]["roomAdmin"], true);
}
