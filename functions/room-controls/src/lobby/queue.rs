//! The waiting room's queue in the fleet store (`record`): put a request in, find a room's
//! waiting requests, move a request one step, take it out. Every rule about when a request
//! has lapsed is here: its guest stopped asking for longer than the heartbeat, it waited
//! longer than the longest wait, or its room finished after it knocked (the webhook
//! receiver records `room_finished`, `shared::room_facts`).

use livekit_lambda_shared::room_facts;
use livekit_lambda_shared::state::{now_millis, Claim, Fields, SharedStore, StoreError, Transition};
use livekit_lambda_shared::web::ErrorResponse;
use tokio::task::JoinSet;

use super::record::{self, LobbyRequest, Status};
use super::refusal::LobbyRefusal;
use super::settings::LobbySettings;

/// Kept past the longest wait, so an admitted guest's next poll still finds the request and
/// a lapsed one answers `410` rather than `404` for a while.
const AFTERLIFE_SECS: u64 = 120;

/// What [`Queue::step`] found.
pub enum Step {
    /// Done: the request as it is now.
    Done(LobbyRequest),
    /// The request had moved on: as it is.
    Moved(LobbyRequest),
    Missing,
}

pub struct Queue<'a> {
    store: &'a SharedStore,
    settings: &'a LobbySettings,
}

impl<'a> Queue<'a> {
    pub fn new(store: &'a SharedStore, settings: &'a LobbySettings) -> Self {
        Self { store, settings }
    }

    fn expires_at(&self, since_ms: u64) -> u64 {
        since_ms / 1000 + self.settings.max_wait.as_secs() + AFTERLIFE_SECS
    }

    /// Puts a new waiting request in: its item first (so no concurrent clean-up ever finds
    /// a listed id without its item), then in its guest's set and its room's set, each up
    /// to its cap. Full: the request is taken out again and the knock refused.
    pub async fn enqueue(&self, request: &LobbyRequest) -> Result<(), ErrorResponse> {
        let expires_at = self.expires_at(request.since_ms);
        let key = record::request_key(&request.id);
        if let Claim::Taken(_) = self.store.claim(&key, &request.to_fields(), None, expires_at).await? {
            // 130 random bits never collide; if they did, this is not that request's knock.
            return Err(crate::input::InvalidBody("request id collision; knock again".into()).into());
        }
        let handle_key = record::handle_key(&request.room, &request.handle);
        if !self.add(&handle_key, &request.id, self.settings.max_per_guest, expires_at).await? {
            self.store.delete(&key).await?;
            return Err(LobbyRefusal::TooManyRequests.into());
        }
        let room_key = record::room_key(&request.room);
        if !self.add(&room_key, &request.id, self.settings.max_per_room, expires_at).await? {
            self.store.remove_member(&handle_key, &request.id).await?;
            self.store.delete(&key).await?;
            return Err(LobbyRefusal::RoomFull.into());
        }
        Ok(())
    }

    /// Adds `id` to a capped set; when full, drops the members that no longer wait and tries
    /// once more.
    async fn add(&self, set: &str, id: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError> {
        if self.store.add_member(set, id, limit, expires_at).await? {
            return Ok(true);
        }
        self.waiting_in(set, None).await?;
        self.store.add_member(set, id, limit, expires_at).await
    }

    /// The request `id`, if it exists (a malformed id is never looked up).
    pub async fn load(&self, id: &str) -> Result<Option<LobbyRequest>, StoreError> {
        if !record::is_request_id(id) {
            return Ok(None);
        }
        Ok(self.store.get(&record::request_key(id)).await?.and_then(|fields| LobbyRequest::from_fields(id, &fields)))
    }

    /// Whether a waiting request has lapsed at `now_ms`, its room having last finished at
    /// `finished_ms`.
    pub fn lapsed(&self, request: &LobbyRequest, now_ms: u64, finished_ms: Option<u64>) -> bool {
        let heartbeat = self.settings.heartbeat_timeout.as_millis() as u64;
        let max_wait = self.settings.max_wait.as_millis() as u64;
        // LiveKit dates its events to the second: a knock in the second the room finished
        // lapses with it (its guest knocks again), rather than surviving the meeting.
        request.seen_ms + heartbeat < now_ms
            || request.since_ms + max_wait < now_ms
            || finished_ms.is_some_and(|finished| request.since_ms / 1000 <= finished / 1000)
    }

    /// Whether `request` (waiting) has lapsed now, reading when its room last finished.
    pub async fn has_lapsed(&self, request: &LobbyRequest) -> Result<bool, StoreError> {
        let finished = room_facts::finished_at(self.store.as_ref(), &request.room).await?;
        Ok(self.lapsed(request, now_millis(), finished))
    }

    /// Moves request `id` from `from` with `changes`; exactly one of concurrent steps from
    /// one state is done.
    pub async fn step(&self, id: &str, from: Status, changes: Fields) -> Result<Step, StoreError> {
        let key = record::request_key(id);
        let transition = self.store.transition(&key, record::STATUS, &[from.as_str()], &changes).await?;
        let request = |mut fields: Fields, changed: bool| {
            if changed {
                fields.extend(changes.clone());
            }
            LobbyRequest::from_fields(id, &fields)
        };
        Ok(match transition {
            Transition::Done(before) => request(before, true).map_or(Step::Missing, Step::Done),
            Transition::Refused(now) => request(now, false).map_or(Step::Missing, Step::Moved),
            Transition::Missing => Step::Missing,
        })
    }

    /// Ends a waiting request that lapsed: `Ok(None)` when it is expired now, or the request
    /// as another step left it (admitted, say, a moment before).
    pub async fn expire(&self, request: &LobbyRequest) -> Result<Option<LobbyRequest>, StoreError> {
        match self.step(&request.id, Status::Waiting, record::change(record::STATUS, Status::Expired.as_str())).await? {
            Step::Done(expired) => {
                self.release(&expired).await;
                Ok(None)
            }
            Step::Moved(moved) => Ok(Some(moved)),
            Step::Missing => Ok(None),
        }
    }

    /// Takes a request that no longer waits out of its sets (best effort: a member left
    /// behind is dropped by the next list or full knock).
    pub async fn release(&self, request: &LobbyRequest) {
        for set in [record::room_key(&request.room), record::handle_key(&request.room, &request.handle)] {
            if let Err(error) = self.store.remove_member(&set, &request.id).await {
                tracing::warn!(error = %error, "could not take a decided waiting-room request out of its set");
            }
        }
    }

    /// `room`'s waiting requests, oldest first; those that no longer wait are dropped from
    /// its set (lapsed ones expired) on the way.
    pub async fn waiting(&self, room: &str) -> Result<Vec<LobbyRequest>, StoreError> {
        let finished = room_facts::finished_at(self.store.as_ref(), room).await?;
        self.waiting_in(&record::room_key(room), Some(finished)).await
    }

    /// The members of `set` that still wait; the rest are taken out of it. `finished`: when
    /// the room last finished, if already read (a guest's set reads it per request).
    async fn waiting_in(&self, set: &str, finished: Option<Option<u64>>) -> Result<Vec<LobbyRequest>, StoreError> {
        let ids = self.store.members(set).await?;
        // One read per member, side by side: a room's cap bounds them.
        let mut reads = JoinSet::new();
        for id in ids {
            let store = self.store.clone();
            reads.spawn(async move {
                let fields = store.get(&record::request_key(&id)).await?;
                Ok::<_, StoreError>((id.clone(), fields.and_then(|f| LobbyRequest::from_fields(&id, &f))))
            });
        }
        let now = now_millis();
        let mut waiting = Vec::new();
        while let Some(read) = reads.join_next().await {
            let (id, request) = read.map_err(|e| StoreError { throttled: false, detail: e.to_string() })??;
            let request = match request {
                Some(request) if request.status == Status::Waiting => request,
                _ => {
                    self.store.remove_member(set, &id).await?;
                    continue;
                }
            };
            let finished = match finished {
                Some(finished) => finished,
                None => room_facts::finished_at(self.store.as_ref(), &request.room).await?,
            };
            if self.lapsed(&request, now, finished) {
                // Expired now, or decided a moment ago: either way it waits no more.
                self.expire(&request).await?;
                continue;
            }
            waiting.push(request);
        }
        waiting.sort_by(|a, b| (a.since_ms, &a.id).cmp(&(b.since_ms, &b.id)));
        Ok(waiting)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    use livekit_lambda_shared::state::MemoryStore;

    use super::*;
    use crate::lobby::record::Knocker;

    fn request(id: &str, handle: &str, since_ms: u64) -> LobbyRequest {
        LobbyRequest {
            id: id.repeat(record::REQUEST_ID_CHARS / id.len()),
            room: "r".into(),
            name: "Jane".into(),
            identity: format!("guest:{id}"),
            knocker: Knocker::Guest,
            handle: handle.into(),
            attributes: HashMap::new(),
            status: Status::Waiting,
            since_ms,
            seen_ms: since_ms,
            decided_by: None,
        }
    }

    #[tokio::test]
    async fn caps_hold_per_guest_and_per_room_and_free_up_when_requests_end() {
        let store: SharedStore = Arc::new(MemoryStore::default());
        let settings = LobbySettings { max_per_guest: 1, max_per_room: 2, ..LobbySettings::default() };
        let queue = Queue::new(&store, &settings);
        let now = now_millis();
        let (a, b, c, d) = (
            request("a", "link:1", now),
            request("b", "link:1", now),
            request("c", "link:2", now),
            request("d", "link:3", now),
        );
        queue.enqueue(&a).await.unwrap();
        assert_eq!(queue.enqueue(&b).await.unwrap_err().code, "too_many_requests");
        assert!(queue.load(&b.id).await.unwrap().is_none(), "a refused knock leaves nothing behind");
        queue.enqueue(&c).await.unwrap();
        assert_eq!(queue.enqueue(&d).await.unwrap_err().code, "lobby_full");
        assert_eq!(queue.waiting("r").await.unwrap().iter().map(|r| &r.id).collect::<Vec<_>>(), [&a.id, &c.id]);
        // `a` is decided: the room has room again, and `a`'s guest may knock again.
        assert!(matches!(
            queue.step(&a.id, Status::Waiting, record::change(record::STATUS, "denied")).await.unwrap(),
            Step::Done(_)
        ));
        queue.enqueue(&b).await.unwrap();
        assert_eq!(queue.waiting("r").await.unwrap().iter().map(|r| &r.id).collect::<Vec<_>>(), [&b.id, &c.id]);
        assert_eq!(queue.enqueue(&d).await.unwrap_err().code, "lobby_full");
    }

    #[tokio::test]
    async fn a_request_lapses_by_heartbeat_by_its_longest_wait_and_when_its_room_finishes() {
        let store: SharedStore = Arc::new(MemoryStore::default());
        let settings = LobbySettings { heartbeat_timeout: Duration::from_secs(20), ..LobbySettings::default() };
        let queue = Queue::new(&store, &settings);
        let now = now_millis();
        let fresh = request("a", "h", now);
        assert!(!queue.lapsed(&fresh, now + 19_000, None));
        assert!(queue.lapsed(&fresh, now + 21_000, None), "no poll for longer than the heartbeat");
        let polled = LobbyRequest { seen_ms: now + 890_000, ..fresh.clone() };
        assert!(queue.lapsed(&polled, now + 901_000, None), "the longest wait");
        assert!(queue.lapsed(&fresh, now + 1_000, Some(now + 1_000)), "the room finished after the knock");
        assert!(queue.lapsed(&fresh, now + 1_000, Some(now / 1000 * 1000)), "in the same second");
        assert!(!queue.lapsed(&fresh, now + 1_000, Some(now - 1_000)), "an earlier meeting's end is not this one's");

        let stale = request("b", "h", now - 60_000);
        queue.enqueue(&stale).await.unwrap();
        assert!(queue.waiting("r").await.unwrap().is_empty());
        assert_eq!(queue.load(&stale.id).await.unwrap().unwrap().status, Status::Expired, "listed, lapsed, expired");
        queue.enqueue(&fresh).await.unwrap();
        room_facts::record_finished(store.as_ref(), "r", now_millis()).await.unwrap();
        assert!(queue.waiting("r").await.unwrap().is_empty(), "room_finished clears the room's waiting room");
    }
}
