//! Facts about a room that one function records in the fleet store, under its own prefix,
//! and another reads by key: the webhook receiver records that LiveKit finished a room
//! (`webhook#finished#<room>`); the room controls read it (`GetItem` on exactly those items)
//! to lapse the room's waiting room.

use crate::state::{Fields, StateStore, StoreError};

/// The items that say a room finished: the webhook receiver's (under its `webhook#`), read
/// by the room controls.
pub const FINISHED_PREFIX: &str = "webhook#finished#";
const FINISHED_MS: &str = "finished_ms";
/// How long the fact is kept: longer than anything that consults it waits.
pub const FINISHED_KEPT_SECS: u64 = 2 * 86_400;

/// The item that says when `room` last finished.
pub fn finished_key(room: &str) -> String {
    format!("{FINISHED_PREFIX}{room}")
}

/// Records that `room` finished at `finished_ms` (the event's own time, so a redelivery
/// writes the same fact).
pub async fn record_finished(store: &dyn StateStore, room: &str, finished_ms: u64) -> Result<(), StoreError> {
    let fields = Fields::from([(FINISHED_MS.to_string(), finished_ms.to_string())]);
    store.put(&finished_key(room), &fields, finished_ms / 1000 + FINISHED_KEPT_SECS).await
}

/// When `room` last finished, if it did in the last [`FINISHED_KEPT_SECS`].
pub async fn finished_at(store: &dyn StateStore, room: &str) -> Result<Option<u64>, StoreError> {
    Ok(store.get(&finished_key(room)).await?.and_then(|fields| fields.get(FINISHED_MS)?.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{now_millis, MemoryStore};

    #[tokio::test]
    async fn a_finished_room_is_remembered_with_the_events_time() {
        let store = MemoryStore::default();
        assert_eq!(finished_at(&store, "r").await.unwrap(), None);
        let at = now_millis() - 5_000;
        record_finished(&store, "r", at).await.unwrap();
        assert_eq!(finished_at(&store, "r").await.unwrap(), Some(at));
        assert_eq!(finished_at(&store, "other").await.unwrap(), None);
    }
}
