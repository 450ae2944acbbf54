//! Room links end to end (issue 20, docs/room-links.md): a verified caller creates a
//! link, a guest without an account redeems it at `/guest/token`. Every case runs on both
//! paths a deployment has, as for authentication (`auth.rs`): over HTTP to the local
//! server (whose authorizer checks bearer tokens as API Gateway's does), and as the API
//! Gateway event the function receives. Max uses and revocation run on two containers
//! sharing one DynamoDB table on moto_server.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::Request;
use lambda_http::Body;
use livekit_lambda_shared::room_link::{self, LinkClaims, Role};
use livekit_lambda_shared::state::now_secs;
use livekit_lambda_shared::KeySet;
use serde_json::{json, Value};
use wire_tests::fleet::{create_table, dynamo_store};
use wire_tests::{http, verify_with_node_sdk, MotoServer};

use crate::auth::{deploy, deploy_with, gateway_event, minted, outcome, user_claims, Deployment, Outcome, KEY, SECRET};

/// Two keys, newest first: `links-2` signs, both verify (a rotation in progress).
const LINK_KEYS: &str =
    "links-2: second-room-link-secret-of-32-chars!!, links-1: first-room-link-secret-of-32-chars!!!";
const JOIN_PAGE: &str = "https://meet.example.com/join/{room}#{link}";

fn links_on() -> Vec<(&'static str, &'static str)> {
    vec![("ROOM_LINKS", "on"), ("ROOM_LINK_URL", JOIN_PAGE), ("ROOM_LINK_KEYS", LINK_KEYS)]
}

/// A reply: status, error code and JSON body.
#[derive(Debug)]
struct Reply {
    status: u16,
    code: String,
    body: Value,
}

fn reply(status: u16, bytes: &[u8]) -> Reply {
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    Reply { status, code: body["error"]["code"].as_str().unwrap_or_default().to_string(), body }
}

/// One request: method, path with query, optional JSON body.
struct Call<'a> {
    method: &'a str,
    path: String,
    body: Option<Value>,
}

fn call(method: &str, path: impl Into<String>, body: Option<Value>) -> Call<'_> {
    Call { method, path: path.into(), body }
}

impl Deployment {
    /// Over HTTP to the local server, with `bearer` as the Authorization header.
    async fn local_call(&self, c: &Call<'_>, bearer: Option<&str>) -> (u16, Vec<u8>) {
        let authorization = bearer.map(|token| format!("Bearer {token}"));
        let mut headers = vec![];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let body = c.body.as_ref().map(Value::to_string).unwrap_or_default();
        if c.body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let response = http(self.port, c.method, &c.path, &headers, body.as_bytes()).await;
        (response.status, response.body)
    }

    /// The event Lambda receives once API Gateway let the request through (with
    /// `bearer`'s claims in the authorizer context), into the same handler.
    async fn lambda_call(&self, c: &Call<'_>, bearer: Option<&str>) -> (u16, Vec<u8>) {
        let response = self.routes.token.handle(gateway_event(c.method, &c.path, c.body.as_ref(), bearer)).await;
        (response.status().as_u16(), response.body().as_ref().to_vec())
    }

    /// Both paths; status and error code must agree (link ids and guest identities are
    /// random, so bodies differ). The local server's reply is returned.
    async fn both_reply(&self, c: &Call<'_>, bearer: Option<&str>) -> Reply {
        let (status, body) = self.local_call(c, bearer).await;
        let local = reply(status, &body);
        let (status, body) = self.lambda_call(c, bearer).await;
        let lambda = reply(status, &body);
        assert_eq!((local.status, &local.code), (lambda.status, &lambda.code), "local {local:?} / lambda {lambda:?}");
        local
    }

    /// A guest's redemption on both paths, as LiveKit tokens; the two must agree but for
    /// the guest identity's random suffix.
    async fn both_redeem(&self, c: &Call<'_>) -> Outcome {
        let (status, body) = self.local_call(c, None).await;
        let local = outcome(status, &body);
        let (status, body) = self.lambda_call(c, None).await;
        let lambda = outcome(status, &body);
        let strip = |o: &Outcome| {
            (
                o.status,
                o.code.clone(),
                o.token.as_ref().map(|t| {
                    (
                        t.identity.rsplit_once(':').map(|(p, _)| p.to_string()),
                        t.room.clone(),
                        t.name.clone(),
                        t.attributes.clone(),
                        t.room_admin,
                    )
                }),
            )
        };
        assert_eq!(strip(&local), strip(&lambda), "the local server and Lambda disagree");
        local
    }

    /// Creates a link as `bearer` on the local server; its body.
    async fn create(&self, room: &str, ask: Value, bearer: &str) -> Value {
        let (status, body) =
            self.local_call(&call("POST", format!("/rooms/{room}/links"), Some(ask)), Some(bearer)).await;
        let created = reply(status, &body);
        assert_eq!(created.status, 201, "{created:?}");
        created.body
    }
}

fn link_of(created: &Value) -> String {
    created["link"].as_str().expect("link").to_string()
}

fn user(d: &Deployment, sub: &str, extra: Value) -> String {
    let mut claims = user_claims(sub, "openid livekit/join");
    claims.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    d.issuer.mint(claims, json!({}))
}

/// A link signed here, with the deployment's key `kid` (or any secret), for cases the
/// API cannot produce: already expired, signed by a key the deployment does not hold.
fn forged(kid: &str, secret: &str, room: &str, exp: u64) -> String {
    sign_link(&KeySet::from_pairs([(kid, secret)]), room, exp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_joins_one_room_through_a_link_from_a_user_or_an_application() {
    let d = deploy(&links_on()).await;
    let editor = user(&d, "editor-1", json!({}));

    // The editor invites the client: a URL on the front end, the link in its fragment.
    let created = d.create("consultation", json!({}), &editor).await;
    let link = link_of(&created);
    assert_eq!(created["url"], format!("https://meet.example.com/join/consultation#{link}"));
    assert_eq!((created["room"].as_str(), created["role"].as_str()), (Some("consultation"), Some("participant")));
    assert_eq!(created["revocable"], false, "no state table: stateless links");
    let link_id = created["link_id"].as_str().unwrap();
    assert!(created["expires_at"].as_str().unwrap().ends_with('Z'), "{created}");
    // The Lambda path creates links the same way.
    let lambda_created = d.both_reply(&call("POST", "/rooms/consultation/links", Some(json!({}))), Some(&editor)).await;
    assert_eq!(lambda_created.status, 201);

    // The guest redeems it: GET (the seed contract), the standard POST body, and the URL
    // query parameter that `TokenSource.endpoint` callers use with an empty body.
    let got = d.both_redeem(&call("GET", format!("/guest/token?link={link}&participant=Client"), None)).await;
    assert_eq!(got.status, 200, "{got:?}");
    let t = minted(&got);
    assert_eq!((t.room.as_str(), t.name.as_str()), ("consultation", "Client"));
    assert!(t.identity.starts_with(&format!("guest:{link_id}:")), "{}", t.identity);
    assert_eq!(t.attributes["auth.invited_by"], "user:editor-1");
    assert_eq!(t.attributes["auth.link_id"], link_id);
    assert!(!t.attributes.contains_key("auth.owner") && !t.room_admin);
    let posted = d
        .both_redeem(&call("POST", "/guest/token", Some(json!({"room_link": link, "participant_name": "Client"}))))
        .await;
    assert_eq!((posted.status, minted(&posted).room.as_str()), (201, "consultation"));
    let endpoint = d.both_redeem(&call("POST", format!("/guest/token?link={link}"), Some(json!({})))).await;
    assert_eq!((endpoint.status, minted(&endpoint).name.as_str()), (201, ""));
    let a = minted(&posted).identity.clone();
    assert_ne!(a, minted(&endpoint).identity, "each guest is somebody else in the room");

    // An application holding only the links scope invites a named guest: owner attribution.
    let scheduler = d.client_token("scheduler", "scheduler-secret");
    let by_app = d.create("support-7", json!({"name": "Customer 7", "expires_in": 600}), &scheduler).await;
    let app_guest = d
        .both_redeem(&call("GET", format!("/guest/token?link={}&participant=Someone%20Else", link_of(&by_app)), None))
        .await;
    let t = minted(&app_guest);
    assert_eq!((t.room.as_str(), t.name.as_str()), ("support-7", "Customer 7"), "the link's name wins");
    assert_eq!(t.attributes["auth.owner"], "owner:scheduler");
    assert_eq!(t.attributes["auth.invited_by"], "client:scheduler");
    // ...which does not let it mint tokens at /token.
    let (status, _) = d.local_call(&call("GET", "/token?room=support-7&participant=x", None), Some(&scheduler)).await;
    assert_eq!(status, 403, "the links scope is not the mint scope");

    // A moderator may invite a moderator; a participant may not.
    let moderator = user(&d, "mod-1", json!({"groups": ["moderators"]}));
    let mod_link = d.create("consultation", json!({"role": "moderator"}), &moderator).await;
    let m = d.both_redeem(&call("GET", format!("/guest/token?link={}", link_of(&mod_link)), None)).await;
    assert!(minted(&m).room_admin, "{m:?}");
    let refused = d
        .both_reply(&call("POST", "/rooms/consultation/links", Some(json!({"role": "moderator"}))), Some(&editor))
        .await;
    assert_eq!((refused.status, refused.code.as_str()), (403, "role_not_allowed"));

    // The official SDK reads the attribution other participants and backends will read.
    let (_, body) = d.local_call(&call("GET", format!("/guest/token?link={}", link_of(&by_app)), None), None).await;
    let jwt = serde_json::from_slice::<Value>(&body).unwrap()["token"].as_str().unwrap().to_string();
    let verified = &verify_with_node_sdk(KEY, SECRET, &[&jwt])[0];
    assert_eq!(verified["claims"]["attributes"]["auth.owner"], "owner:scheduler", "{verified}");
    assert_eq!(verified["claims"]["video"]["room"], "support-7", "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_and_bad_requests_get_a_stable_refusal_and_no_token() {
    let d = deploy(&links_on()).await;
    let editor = user(&d, "editor-1", json!({}));
    let link = link_of(&d.create("consultation", json!({}), &editor).await);
    let mut tampered = link.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let livekit_token =
        livekit_api::access_token::AccessToken::with_api_key(KEY, SECRET).with_identity("x").to_jwt().unwrap();

    let guest_cases: Vec<(Call, u16, &str)> = vec![
        (call("GET", "/guest/token?participant=Client", None), 401, "link_required"),
        (call("POST", "/guest/token", Some(json!({}))), 401, "link_required"),
        (call("GET", format!("/guest/token?link={tampered}"), None), 401, "link_invalid"),
        (call("GET", "/guest/token?link=not-a-link", None), 401, "link_invalid"),
        (call("GET", format!("/guest/token?link={livekit_token}"), None), 401, "link_invalid"),
        (
            call(
                "GET",
                format!(
                    "/guest/token?link={}",
                    forged("links-1", "first-room-link-secret-of-32-chars!!!", "consultation", now_secs() - 1)
                ),
                None,
            ),
            401,
            "link_expired",
        ),
        (
            call(
                "GET",
                format!(
                    "/guest/token?link={}",
                    forged("links-1", "a-secret-this-deployment-never-had!", "consultation", now_secs() + 60)
                ),
                None,
            ),
            401,
            "link_invalid",
        ),
        (
            call(
                "GET",
                format!(
                    "/guest/token?link={}",
                    forged("links-9", "a-secret-this-deployment-never-had!", "consultation", now_secs() + 60)
                ),
                None,
            ),
            401,
            "link_invalid",
        ),
        (call("GET", format!("/guest/token?link={link}&room=boardroom"), None), 403, "link_wrong_room"),
        (
            call("POST", "/guest/token", Some(json!({"room_link": link, "room_name": "boardroom"}))),
            403,
            "link_wrong_room",
        ),
        (
            call("POST", "/guest/token", Some(json!({"room_link": link, "participant_identity": "user:the-boss"}))),
            403,
            "field_not_allowed",
        ),
        (
            call(
                "POST",
                "/guest/token",
                Some(json!({"room_link": link, "participant_attributes": {"auth.owner": "owner:me"}})),
            ),
            403,
            "field_not_allowed",
        ),
        (call("POST", format!("/guest/token?link={tampered}"), Some(json!({"room_link": link}))), 400, "invalid_field"),
        (call("POST", "/guest/token", Some(json!({"room_link": 7}))), 400, "invalid_field"),
    ];
    for (c, status, code) in &guest_cases {
        let got = d.both_redeem(c).await;
        assert_eq!((got.status, got.code.as_str()), (*status, *code), "{} {}", c.method, c.path);
    }
    // A link signed by the old key still works while the deployment lists it.
    let old_key = forged("links-1", "first-room-link-secret-of-32-chars!!!", "consultation", now_secs() + 60);
    assert_eq!(d.both_redeem(&call("GET", format!("/guest/token?link={old_key}"), None)).await.status, 200);

    let create_cases: Vec<(Value, u16, &str)> = vec![
        (json!({"max_uses": 1}), 501, "link_state_unavailable"),
        (json!({"expires_in": 30}), 400, "invalid_field"),
        (json!({"expires_in": 30 * 86_400}), 400, "invalid_field"),
        (json!({"role": "owner"}), 400, "invalid_field"),
        (json!({"rooms": ["all"]}), 400, "invalid_field"),
    ];
    for (ask, status, code) in create_cases {
        let got = d.both_reply(&call("POST", "/rooms/consultation/links", Some(ask.clone())), Some(&editor)).await;
        assert_eq!((got.status, got.code.as_str()), (status, code), "{ask}");
    }
    // No bearer token: API Gateway's authorizer (locally, the local server's) refuses it,
    // and a Lambda event without an authorizer context is refused by the function.
    let anonymous = d.both_reply(&call("POST", "/rooms/consultation/links", Some(json!({}))), None).await;
    assert_eq!((anonymous.status, anonymous.code.as_str()), (401, "unauthenticated"));
    let revoke = d.both_reply(&call("DELETE", "/rooms/consultation/links/abc", None), Some(&editor)).await;
    assert_eq!((revoke.status, revoke.code.as_str()), (501, "link_state_unavailable"));
    // A link is redeemed at /guest/token only.
    let (status, body) = d
        .local_call(
            &call("POST", "/token", Some(json!({"room_link": link, "room_name": "consultation"}))),
            Some(&editor),
        )
        .await;
    assert_eq!((status, reply(status, &body).code.as_str()), (400, "field_not_allowed"));

    // With links off, their routes do not exist.
    let off = deploy(&[]).await;
    let off_user = user(&off, "editor-1", json!({}));
    for c in [call("GET", format!("/guest/token?link={link}"), None), call("POST", "/rooms/r/links", Some(json!({})))] {
        let got = off.both_reply(&c, Some(&off_user)).await;
        assert_eq!((got.status, got.code.as_str()), (404, "not_found"), "{}", c.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_uses_and_revocation_hold_across_containers() {
    let moto = MotoServer::start_serial();
    create_table(&moto, "links-fleet").await;
    let store = Arc::new(dynamo_store(&moto.endpoint(), "links-fleet", Duration::from_secs(3)).await);
    let with_store = |store: Arc<livekit_lambda_shared::state::DynamoStore>| {
        move |mut routes: local_server::LocalRoutes| {
            routes.token = routes.token.with_link_store(store);
            routes
        }
    };
    // Two containers of one fleet, one table.
    let a = deploy_with(&links_on(), with_store(store.clone())).await;
    let b = deploy_with(&links_on(), with_store(store.clone())).await;
    let editor = user(&a, "editor-1", json!({}));

    let created = a.create("consultation", json!({"max_uses": 2}), &editor).await;
    assert_eq!(created["revocable"], true);
    let redeem = |link: String| call("GET", format!("/guest/token?link={link}"), None);
    let link = link_of(&created);
    let (first, _) = a.local_call(&redeem(link.clone()), None).await;
    let (second, _) = b.lambda_call(&redeem(link.clone()), None).await;
    assert_eq!((first, second), (200, 200));
    let third = a.both_reply(&redeem(link.clone()), None).await;
    assert_eq!((third.status, third.code.as_str()), (410, "link_used_up"));

    // A class joining at once: twelve guests, three seats, two containers.
    let seats = link_of(&a.create("lecture", json!({"max_uses": 3}), &editor).await);
    let (a, b) = (Arc::new(a), Arc::new(b));
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let container = if i % 2 == 0 { a.clone() } else { b.clone() };
            let c = redeem(seats.clone());
            tokio::spawn(async move { container.local_call(&c, None).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 200, 200, 410, 410, 410, 410, 410, 410, 410, 410, 410],
        "exactly max_uses tokens: {statuses:?}"
    );

    // Revocation: only by its creator (or a moderator), on any container, in its room.
    let created = a.create("consultation", json!({}), &editor).await;
    let (link, id) = (link_of(&created), created["link_id"].as_str().unwrap().to_string());
    // Each container's local server trusts its own test issuer: the same users, minted there.
    let (editor_at_b, other_at_b) = (user(&b, "editor-1", json!({})), user(&b, "someone-else", json!({})));
    let revoke = |room: &str| call("DELETE", format!("/rooms/{room}/links/{id}"), None);
    let not_yours = b.both_reply(&revoke("consultation"), Some(&other_at_b)).await;
    assert_eq!((not_yours.status, not_yours.code.as_str()), (403, "link_not_yours"));
    let wrong_room = b.both_reply(&revoke("boardroom"), Some(&editor_at_b)).await;
    assert_eq!((wrong_room.status, wrong_room.code.as_str()), (404, "link_not_found"));
    assert_eq!(a.both_redeem(&redeem(link.clone())).await.status, 200, "still valid");
    let (status, _) = b.local_call(&revoke("consultation"), Some(&editor_at_b)).await;
    assert_eq!(status, 204);
    let revoked = a.both_redeem(&redeem(link)).await;
    assert_eq!((revoked.status, revoked.code.as_str()), (410, "link_revoked"));
    let again = a.both_reply(&revoke("consultation"), Some(&editor)).await;
    assert_eq!((again.status, again.code.as_str()), (404, "link_not_found"));
    // A moderator may revoke anyone's link.
    let created = a.create("consultation", json!({}), &editor).await;
    let moderator = user(&b, "mod-1", json!({"groups": ["moderators"]}));
    let path = format!("/rooms/consultation/links/{}", created["link_id"].as_str().unwrap());
    assert_eq!(b.local_call(&call("DELETE", path, None), Some(&moderator)).await.0, 204);
}

/// Link keys rotate like LiveKit keys (docs/room-links.md#rotating-the-link-keys): the new
/// key goes on top of `room-link-keys` in SSM and signs; the old one verifies until it is
/// removed. A warm container that has not seen the new key yet re-reads SSM once when a
/// link names it, then accepts both.
#[tokio::test]
async fn link_keys_rotate_like_livekit_keys() {
    use aws_sdk_ssm::types::ParameterType;
    use livekit_lambda_shared::ssm::SsmParameters;
    use livekit_lambda_shared::{CachePolicy, CredentialSource, CredentialStore};
    use token_generator::links::LinkSettings;
    use token_generator::{TokenService, TokenSettings};

    const OLD: (&str, &str) = ("links-old", "old-room-link-secret-old-room-link-1");
    const NEW: (&str, &str) = ("links-new", "new-room-link-secret-new-room-link-2");
    let moto = MotoServer::start();
    let prefix = "/rotation/links";
    moto.put_livekit(prefix, KEY, SECRET, "wss://lk.example.com").await;
    let keys_parameter = format!("{prefix}/room-link-keys");
    moto.put(&keys_parameter, &format!("{}: {}", OLD.0, OLD.1), ParameterType::SecureString).await;
    let container = || {
        let parameters = SsmParameters::new(moto.ssm_client(), prefix).signing_only().with_room_link_keys();
        let store = CredentialStore::new(
            CredentialSource::Ssm(parameters),
            CachePolicy { max_age: Duration::from_secs(3600), stale_limit: Duration::from_secs(3600) },
        );
        let links = LinkSettings { enabled: true, url_template: JOIN_PAGE.into(), ..LinkSettings::default() };
        TokenService::new(TokenSettings { links, ..TokenSettings::default() }, Arc::new(store))
    };
    let redeem = |service: &TokenService, link: &str| {
        let request = Request::get(format!("/guest/token?link={link}")).body(Body::Empty).unwrap();
        let service = service.clone();
        async move {
            let response = service.handle(request).await;
            reply(response.status().as_u16(), response.body().as_ref())
        }
    };
    let signed_by = |keys: &[(&str, &str)]| forged_with(&KeySet::from_pairs(keys.iter().copied()));

    let warm = container();
    let old_link = signed_by(&[OLD]);
    assert_eq!(redeem(&warm, &old_link).await.status, 200, "before the rotation");
    let calls_before = moto.get_parameters_calls(prefix).len();

    // The new key on top: it signs from now on; the old one still verifies.
    moto.put(&keys_parameter, &format!("{}: {}, {}: {}", NEW.0, NEW.1, OLD.0, OLD.1), ParameterType::SecureString)
        .await;
    let new_link = signed_by(&[NEW, OLD]);
    assert_eq!(redeem(&warm, &new_link).await.status, 200, "a warm container learns the new key");
    assert_eq!(redeem(&warm, &old_link).await.status, 200, "and still accepts the old one");
    assert_eq!(moto.get_parameters_calls(prefix).len(), calls_before + 1, "one re-read for the unknown key");
    let forged = signed_by(&[(NEW.0, "a-secret-nobody-was-ever-given-at-all")]);
    assert_eq!(redeem(&warm, &forged).await.code, "link_invalid", "a known key with a bad signature");
    assert_eq!(moto.get_parameters_calls(prefix).len(), calls_before + 1, "a forgery costs no SSM call");

    // The old key retired: a new container refuses what it signed.
    moto.put(&keys_parameter, &format!("{}: {}", NEW.0, NEW.1), ParameterType::SecureString).await;
    let cold = container();
    assert_eq!(redeem(&cold, &new_link).await.status, 200);
    let retired = redeem(&cold, &old_link).await;
    assert_eq!((retired.status, retired.code.as_str()), (401, "link_invalid"));
}

/// A link for `consultation`, valid for a minute, signed by the first of `keys`.
fn forged_with(keys: &KeySet) -> String {
    sign_link(keys, "consultation", now_secs() + 60)
}

/// A moderator link for `room` expiring at `exp`, signed by the first of `keys`.
fn sign_link(keys: &KeySet, room: &str, exp: u64) -> String {
    let claims = LinkClaims {
        iss: room_link::LINK_ISSUER.into(),
        aud: room_link::LINK_AUDIENCE.into(),
        jti: "forgedlink000001".into(),
        room: room.into(),
        role: Role::Moderator,
        name: String::new(),
        by: "user:nobody".into(),
        owner: None,
        iat: now_secs(),
        exp,
        max_uses: None,
        stored: false,
        admission: room_link::Admission::Direct,
    };
    room_link::sign(&claims, keys).expect("signed")
}
