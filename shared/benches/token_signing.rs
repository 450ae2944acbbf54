//! The floor under the token generator's handler: building and signing one participant
//! token with livekit-api (what `GET`/`POST /token` do per request), next to a bare
//! HMAC-SHA256 over the very bytes that signature covers (the JWS signing input
//! `base64url(header).base64url(claims)` of the same token). `bench/run.sh` reads the
//! estimates criterion writes under `target/criterion/token_signing/`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use livekit_lambda_shared::token::{Participant, ParticipantToken};
use livekit_lambda_shared::{Credentials, Secret};
use sha2::Sha256;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-0042";

fn credentials() -> Credentials {
    Credentials::new("APIbench", Secret::new(SECRET), "wss://lk.bench.example", None).expect("valid credentials")
}

/// What `GET /token?room=demo-room&participant=Jane` signs (events/token-get.json).
fn get_token() -> ParticipantToken {
    let participant =
        Participant { room: "demo-room".into(), identity: "Jane".into(), name: "Jane".into(), ..Default::default() };
    ParticipantToken { participant, ttl: Duration::from_secs(21_600), ..Default::default() }
}

/// What the standard `POST /token` sample signs (events/token-post-standard.json).
fn post_token() -> ParticipantToken {
    let participant = Participant {
        room: "demo-room".into(),
        identity: "jane-1".into(),
        name: "Jane".into(),
        attributes: HashMap::from([("role".to_string(), "host".to_string())]),
        ..Default::default()
    };
    ParticipantToken { participant, ttl: Duration::from_secs(21_600), ..Default::default() }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn token_signing(c: &mut Criterion) {
    let credentials = credentials();
    let get = get_token();
    let post = post_token();
    let jwt = get.sign(&credentials).expect("sign");
    let signing_input = jwt.rsplit_once('.').expect("a JWS").0.to_string();

    // The floor must be the same computation the signer does: check it reproduces the signature.
    {
        use base64::Engine;
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac_sha256(SECRET.as_bytes(), signing_input.as_bytes()));
        assert_eq!(jwt.rsplit_once('.').unwrap().1, signature, "the floor HMAC is the token's own signature");
    }

    let mut group = c.benchmark_group("token_signing");
    group.throughput(Throughput::Elements(1));
    group.bench_function("build_and_sign_get", |b| b.iter(|| black_box(&get).sign(black_box(&credentials)).unwrap()));
    group.bench_function("build_and_sign_post", |b| b.iter(|| black_box(&post).sign(black_box(&credentials)).unwrap()));
    group.bench_function("hmac_sha256_floor", |b| {
        b.iter(|| hmac_sha256(black_box(SECRET.as_bytes()), black_box(signing_input.as_bytes())))
    });
    group.finish();
}

criterion_group!(benches, token_signing);
criterion_main!(benches);
