//! The state store's two implementations keep one set of semantics: DynamoDB over its
//! real wire protocol (moto_server) and the in-process store `make dev` uses.

use std::sync::Arc;
use std::time::Duration;

use livekit_lambda_shared::state::{now_millis, now_secs, Claim, Fields, MemoryStore, StateStore, Transition, Use};
use wire_tests::fleet::{create_table, dynamo_store};
use wire_tests::MotoServer;

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn semantics(store: &dyn StateStore) {
    let later = now_secs() + 600;
    let a = fields(&[("owner", "a"), ("pin", "0123456789")]);
    let b = fields(&[("owner", "b")]);

    // A claim holds until the item expires; the loser sees the holder's fields.
    assert_eq!(store.claim("webhook#k", &a, None, later).await.unwrap(), Claim::Claimed);
    assert_eq!(store.claim("webhook#k", &b, None, later).await.unwrap(), Claim::Taken(a.clone()));
    assert_eq!(store.get("webhook#k").await.unwrap(), Some(a.clone()));
    // Expired but not yet deleted by TTL (DynamoDB deletes up to 48 h late): absent.
    store.put("webhook#k", &a, now_secs() - 5).await.unwrap();
    assert_eq!(store.get("webhook#k").await.unwrap(), None);
    assert_eq!(store.claim("webhook#k", &b, None, later).await.unwrap(), Claim::Claimed);

    // A lock whose holder's deadline passed is claimable; a live one is not; put ends it.
    store.claim("webhook#lock", &a, Some(now_millis() - 1), later).await.unwrap();
    assert_eq!(store.claim("webhook#lock", &b, Some(now_millis() + 60_000), later).await.unwrap(), Claim::Claimed);
    assert_eq!(store.claim("webhook#lock", &a, None, later).await.unwrap(), Claim::Taken(b.clone()));
    store.put("webhook#lock", &a, later).await.unwrap();
    assert_eq!(store.claim("webhook#lock", &b, Some(now_millis() + 60_000), later).await.unwrap(), Claim::Taken(a));
    store.delete("webhook#lock").await.unwrap();
    assert_eq!(store.get("webhook#lock").await.unwrap(), None);
    store.delete("webhook#never-written").await.unwrap();

    // Counters stop at the limit, per key.
    let mut allowed = Vec::new();
    for _ in 0..4 {
        allowed.push(store.count("subtitles#rate#jane#1", 3, later).await.unwrap());
    }
    assert_eq!(allowed, [true, true, true, false]);
    assert!(store.count("subtitles#rate#bob#1", 3, later).await.unwrap());

    // Uses of an existing item (a room link's record): never created by a use, stopped at
    // the limit, gone once deleted or expired.
    assert_eq!(store.use_existing("links#absent", Some(2)).await.unwrap(), Use::Missing);
    assert_eq!(store.get("links#absent").await.unwrap(), None, "a use creates nothing");
    store.claim("links#l1", &fields(&[("room", "r"), ("by", "user:u")]), None, later).await.unwrap();
    assert_eq!(store.use_existing("links#l1", Some(2)).await.unwrap(), Use::Counted(1));
    assert_eq!(store.use_existing("links#l1", Some(2)).await.unwrap(), Use::Counted(2));
    assert_eq!(store.use_existing("links#l1", Some(2)).await.unwrap(), Use::Exhausted);
    assert_eq!(store.get("links#l1").await.unwrap(), Some(fields(&[("room", "r"), ("by", "user:u")])));
    store.claim("links#open", &fields(&[]), None, later).await.unwrap();
    assert_eq!(store.use_existing("links#open", None).await.unwrap(), Use::Counted(1));
    assert_eq!(store.use_existing("links#open", None).await.unwrap(), Use::Counted(2));
    store.delete("links#open").await.unwrap();
    assert_eq!(store.use_existing("links#open", None).await.unwrap(), Use::Missing);
    store.put("links#old", &fields(&[]), now_secs() - 5).await.unwrap();
    assert_eq!(store.use_existing("links#old", None).await.unwrap(), Use::Missing);

    // A state machine's step happens once: of two steps from the same state one is done, the
    // other sees the state the first left; an expired item is missing.
    store.put("controls#lobby#req#1", &fields(&[("status", "waiting"), ("name", "Ann")]), later).await.unwrap();
    let admit = fields(&[("status", "admitted")]);
    assert_eq!(
        store.transition("controls#lobby#req#1", "status", &["waiting"], &admit).await.unwrap(),
        Transition::Done(fields(&[("status", "waiting"), ("name", "Ann")]))
    );
    assert_eq!(
        store
            .transition("controls#lobby#req#1", "status", &["waiting"], &fields(&[("status", "denied")]))
            .await
            .unwrap(),
        Transition::Refused(fields(&[("status", "admitted"), ("name", "Ann")]))
    );
    assert_eq!(
        store.transition("controls#lobby#none", "status", &["waiting"], &admit).await.unwrap(),
        Transition::Missing
    );
    store.put("controls#lobby#req#old", &fields(&[("status", "waiting")]), now_secs() - 5).await.unwrap();
    assert_eq!(
        store.transition("controls#lobby#req#old", "status", &["waiting"], &admit).await.unwrap(),
        Transition::Missing
    );

    // Sets: members added atomically up to a limit, removed, listed; an expired set is empty.
    assert_eq!(store.members("controls#lobby#room#r").await.unwrap(), Vec::<String>::new());
    assert!(store.add_member("controls#lobby#room#r", "a", 2, later).await.unwrap());
    assert!(store.add_member("controls#lobby#room#r", "b", 2, later).await.unwrap());
    assert!(store.add_member("controls#lobby#room#r", "b", 2, later).await.unwrap(), "already a member");
    assert!(!store.add_member("controls#lobby#room#r", "c", 2, later).await.unwrap(), "full");
    store.remove_member("controls#lobby#room#r", "a").await.unwrap();
    store.remove_member("controls#lobby#room#absent", "a").await.unwrap();
    assert!(store.add_member("controls#lobby#room#r", "c", 2, later).await.unwrap());
    assert_eq!(store.members("controls#lobby#room#r").await.unwrap(), ["b", "c"]);
    assert!(store.add_member("controls#lobby#room#old", "a", 1, now_secs() - 5).await.unwrap());
    assert_eq!(store.members("controls#lobby#room#old").await.unwrap(), Vec::<String>::new(), "expired");
    assert!(store.add_member("controls#lobby#room#old", "b", 1, later).await.unwrap(), "an expired set restarts");
    assert_eq!(store.members("controls#lobby#room#old").await.unwrap(), ["b"], "with only the new member");
}

#[tokio::test]
async fn memory_and_dynamodb_keep_the_same_semantics() {
    semantics(&MemoryStore::default()).await;

    let moto = MotoServer::start_serial();
    create_table(&moto, "state-semantics").await;
    let store = Arc::new(dynamo_store(&moto.endpoint(), "state-semantics", Duration::from_secs(2)).await);
    semantics(store.as_ref()).await;
}

/// Concurrent claims of one key on DynamoDB: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_many_concurrent_claims_wins() {
    let moto = MotoServer::start_serial();
    create_table(&moto, "state-race").await;
    let store = Arc::new(dynamo_store(&moto.endpoint(), "state-race", Duration::from_secs(2)).await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mine = fields(&[("owner", &i.to_string())]);
                store.claim("webhook#sip-pin#0000000001", &mine, None, now_secs() + 60).await.unwrap()
            })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        if task.await.unwrap() == Claim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}
