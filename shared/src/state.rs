//! Fleet-wide state (issue 14, docs/state.md): what one container must know about what
//! another already did. LiveKit delivers a webhook to whichever container is free and
//! redelivers on 5xx; a room's joins land anywhere; a participant's subtitle requests
//! too. Memory inside one container is right for one request at a time in one process
//! and wrong for a fleet, so the functions that need memory keep it here.
//!
//! One table, one partition key `pk` (a string whose prefix names the function that owns
//! the item: each role may touch only its own prefix), and `expires_at` (epoch seconds),
//! DynamoDB's TTL attribute. DynamoDB deletes expired items up to 48 h late, so every read
//! and every condition treats an expired item as absent itself.
//!
//! [`StateStore`] is the one interface; [`DynamoStore`] (`STATE_TABLE` set) serves a fleet
//! and [`MemoryStore`] (unset) serves `make dev` and a single container, where one process
//! is the whole fleet. Both keep the same semantics, and the tests run both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::error::Error;
use crate::settings::EnvSettings;

/// `STATE_TIMEOUT_MS` when unset: one DynamoDB call, retries included. LiveKit gives a
/// webhook delivery a few seconds; a store that does not answer in one is treated as down.
pub const DEFAULT_TIMEOUT_MS: u64 = 1_000;

/// The attributes a caller stores in an item, besides the key and the expiry.
pub type Fields = BTreeMap<String, String>;

/// The store failed: throttled or unreachable. Nothing was decided, so the caller answers
/// with a retryable 503 and acts on nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state store {}: {detail}", if *.throttled { "throttled" } else { "unavailable" })]
pub struct StoreError {
    pub throttled: bool,
    pub detail: String,
}

/// What [`StateStore::claim`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The item was absent (or expired, or its lock had lapsed) and is now ours.
    Claimed,
    /// A live item is there; its fields.
    Taken(Fields),
}

/// Seconds since the epoch: the unit of `expires_at`.
pub fn now_secs() -> u64 {
    now_millis() / 1000
}

pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// The fleet's memory. Every operation is one round trip and decides atomically.
#[async_trait]
pub trait StateStore: Debug + Send + Sync {
    /// The item's fields, unless it is absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Fields>, StoreError>;

    /// Writes the item only if no live item holds the key: absent, expired, or written
    /// with a lock (`lock_until_ms`) that has lapsed (its writer died mid-way). With
    /// `lock_until_ms`, the new item is itself such a lock.
    async fn claim(
        &self,
        key: &str,
        fields: &Fields,
        lock_until_ms: Option<u64>,
        expires_at: u64,
    ) -> Result<Claim, StoreError>;

    /// Writes the item whatever is there (and drops any lock).
    async fn put(&self, key: &str, fields: &Fields, expires_at: u64) -> Result<(), StoreError>;

    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Counts one more use of `key` unless `limit` uses are counted already: `Ok(true)`
    /// when this use is allowed. The window is part of the key, so a new window is a new
    /// item; `expires_at` lets DynamoDB delete the old ones.
    async fn count(&self, key: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError>;

    /// Counts one use of an item that must already exist (a room link's record): never
    /// creates it, so a deleted (revoked) item stays gone. `limit`: at most that many uses.
    async fn use_existing(&self, key: &str, limit: Option<u32>) -> Result<Use, StoreError>;

    /// Sets `changes` on a live item only while its `field` holds one of `from` (a state
    /// machine's step: of two concurrent steps from the same state, exactly one happens).
    async fn transition(
        &self,
        key: &str,
        field: &str,
        from: &[&str],
        changes: &Fields,
    ) -> Result<Transition, StoreError>;

    /// Adds `member` to the set item `key` unless it holds `limit` members already (the set
    /// is created as needed, and lives until `expires_at`): `Ok(true)` when it is a member now.
    async fn add_member(&self, key: &str, member: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError>;

    async fn remove_member(&self, key: &str, member: &str) -> Result<(), StoreError>;

    /// The members of the set item `key` (none when it is absent or expired).
    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError>;
}

/// What [`StateStore::transition`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Done; the item's fields before the change.
    Done(Fields),
    /// The item is in another state; its fields.
    Refused(Fields),
    /// No live item.
    Missing,
}

/// What [`StateStore::use_existing`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Counted: this is use number `n` (from 1).
    Counted(u32),
    /// The item holds `limit` uses already; nothing was counted.
    Exhausted,
    /// No live item: never written, deleted, or expired.
    Missing,
}

pub type SharedStore = Arc<dyn StateStore>;

/// `STATE_TABLE` set: DynamoDB (the AWS SDK's usual configuration, so
/// `AWS_ENDPOINT_URL_DYNAMODB` reaches moto or DynamoDB local); unset: one process's memory.
pub async fn from_env(env: &EnvSettings) -> Result<SharedStore, Error> {
    let Some(table) = env.non_empty("STATE_TABLE") else {
        return Ok(Arc::new(MemoryStore::default()));
    };
    let timeout = Duration::from_millis(env.u64_in("STATE_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 50..=10_000)?);
    let config = aws_config_loader(timeout).load().await;
    if config.region().is_none() {
        return Err(Error::config("AWS_REGION", "is required to use the DynamoDB table named by STATE_TABLE"));
    }
    tracing::info!(table = %table, "fleet state in DynamoDB");
    Ok(Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table)))
}

/// The SDK configuration of the store's client: the one HTTPS client (rustls on ring),
/// `timeout` on each call with its retries (the SDK's standard retry, 3 attempts), so a
/// slow store is a 503 within a webhook delivery's budget, never a hang.
pub fn aws_config_loader(timeout: Duration) -> aws_config::ConfigLoader {
    let timeouts =
        aws_config::timeout::TimeoutConfig::builder().connect_timeout(timeout).operation_timeout(timeout).build();
    crate::aws::config_loader(timeouts, aws_config::retry::RetryConfig::standard().with_max_attempts(3))
}

/// One process's memory: the whole fleet when there is one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, MemoryItem>>,
}

#[derive(Clone, Debug)]
struct MemoryItem {
    fields: Fields,
    lock_until_ms: Option<u64>,
    expires_at: u64,
    hits: u32,
}

impl MemoryItem {
    fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at >= now_ms / 1000 && self.lock_until_ms.is_none_or(|lock| lock >= now_ms)
    }
}

impl MemoryStore {
    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemoryItem>> {
        // A panic while holding the lock cannot leave an item half written.
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Fields>, StoreError> {
        let now = now_secs();
        Ok(self.items().get(key).filter(|item| item.expires_at >= now).map(|item| item.fields.clone()))
    }

    async fn claim(
        &self,
        key: &str,
        fields: &Fields,
        lock_until_ms: Option<u64>,
        expires_at: u64,
    ) -> Result<Claim, StoreError> {
        let mut items = self.items();
        if let Some(existing) = items.get(key).filter(|item| item.is_live(now_millis())) {
            return Ok(Claim::Taken(existing.fields.clone()));
        }
        items.insert(key.to_string(), MemoryItem { fields: fields.clone(), lock_until_ms, expires_at, hits: 0 });
        Ok(Claim::Claimed)
    }

    async fn put(&self, key: &str, fields: &Fields, expires_at: u64) -> Result<(), StoreError> {
        let item = MemoryItem { fields: fields.clone(), lock_until_ms: None, expires_at, hits: 0 };
        self.items().insert(key.to_string(), item);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.items().remove(key);
        Ok(())
    }

    async fn count(&self, key: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError> {
        let now = now_secs();
        let mut items = self.items();
        // Bounds memory in a long-lived local server: expired windows go.
        if items.len() > 10_000 {
            items.retain(|_, item| item.expires_at >= now);
        }
        let item = items.entry(key.to_string()).or_insert_with(|| MemoryItem {
            fields: Fields::new(),
            lock_until_ms: None,
            expires_at,
            hits: 0,
        });
        if item.hits >= limit {
            return Ok(false);
        }
        item.hits += 1;
        Ok(true)
    }

    async fn use_existing(&self, key: &str, limit: Option<u32>) -> Result<Use, StoreError> {
        let now = now_secs();
        let mut items = self.items();
        let Some(item) = items.get_mut(key).filter(|item| item.expires_at >= now) else { return Ok(Use::Missing) };
        if limit.is_some_and(|limit| item.hits >= limit) {
            return Ok(Use::Exhausted);
        }
        item.hits += 1;
        Ok(Use::Counted(item.hits))
    }

    async fn transition(
        &self,
        key: &str,
        field: &str,
        from: &[&str],
        changes: &Fields,
    ) -> Result<Transition, StoreError> {
        let now = now_secs();
        let mut items = self.items();
        let Some(item) = items.get_mut(key).filter(|item| item.expires_at >= now) else {
            return Ok(Transition::Missing);
        };
        if !item.fields.get(field).is_some_and(|value| from.contains(&value.as_str())) {
            return Ok(Transition::Refused(item.fields.clone()));
        }
        let before = item.fields.clone();
        item.fields.extend(changes.clone());
        Ok(Transition::Done(before))
    }

    async fn add_member(&self, key: &str, member: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError> {
        let now = now_secs();
        let mut items = self.items();
        let item = items.entry(key.to_string()).or_insert_with(|| MemoryItem {
            fields: Fields::new(),
            lock_until_ms: None,
            expires_at,
            hits: 0,
        });
        if item.expires_at < now {
            item.fields.clear();
        }
        item.expires_at = item.expires_at.max(expires_at);
        let mut members: BTreeSet<String> = item.fields.get(MEMBERS).map(|m| decode_members(m)).unwrap_or_default();
        if members.contains(member) {
            return Ok(true);
        }
        if members.len() >= limit as usize {
            return Ok(false);
        }
        members.insert(member.to_string());
        item.fields.insert(MEMBERS.into(), encode_members(&members));
        Ok(true)
    }

    async fn remove_member(&self, key: &str, member: &str) -> Result<(), StoreError> {
        if let Some(item) = self.items().get_mut(key) {
            let mut members = item.fields.get(MEMBERS).map(|m| decode_members(m)).unwrap_or_default();
            members.remove(member);
            item.fields.insert(MEMBERS.into(), encode_members(&members));
        }
        Ok(())
    }

    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now = now_secs();
        let items = self.items();
        let members = items.get(key).filter(|item| item.expires_at >= now).and_then(|item| item.fields.get(MEMBERS));
        Ok(members.map(|m| decode_members(m).into_iter().collect()).unwrap_or_default())
    }
}

/// The memory store keeps a set as one field of newline-separated members (members are
/// ids and names the functions make: no newlines).
const MEMBERS: &str = "members";

fn decode_members(text: &str) -> BTreeSet<String> {
    text.lines().filter(|m| !m.is_empty()).map(str::to_string).collect()
}

fn encode_members(members: &BTreeSet<String>) -> String {
    members.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
}

/// The table, through the official SDK. Attribute names: `pk`, `expires_at`,
/// `lock_until_ms` (epoch ms, only on locks), `hits` (counters) and the caller's fields.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

const PK: &str = "pk";
const EXPIRES_AT: &str = "expires_at";
const LOCK_UNTIL_MS: &str = "lock_until_ms";
const HITS: &str = "hits";
/// A set item's members: a DynamoDB string set, added to and removed from atomically.
const SET_MEMBERS: &str = "members";

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key_of(key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_string(), AttributeValue::S(key.to_string()))])
}

/// The caller's fields out of an item (the key, expiry, lock and counter are ours).
fn fields_of(item: &HashMap<String, AttributeValue>) -> Fields {
    item.iter()
        .filter(|(name, _)| ![PK, EXPIRES_AT, LOCK_UNTIL_MS, HITS, SET_MEMBERS].contains(&name.as_str()))
        .filter_map(|(name, value)| value.as_s().ok().map(|s| (name.clone(), s.clone())))
        .collect()
}

fn expires_of(item: &HashMap<String, AttributeValue>) -> u64 {
    item.get(EXPIRES_AT).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

/// Throttled (retry later) or unavailable; the SDK's full error context for the log.
fn store_error<E, R>(operation: &str, error: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    let throttled =
        error.code().is_some_and(|code| aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&code));
    StoreError { throttled, detail: format!("DynamoDB {operation}: {}", DisplayErrorContext(error)) }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn item(
        key: &str,
        fields: &Fields,
        lock_until_ms: Option<u64>,
        expires_at: u64,
    ) -> HashMap<String, AttributeValue> {
        let mut item: HashMap<String, AttributeValue> =
            fields.iter().map(|(name, value)| (name.clone(), AttributeValue::S(value.clone()))).collect();
        item.insert(PK.into(), AttributeValue::S(key.to_string()));
        item.insert(EXPIRES_AT.into(), number(expires_at));
        if let Some(lock) = lock_until_ms {
            item.insert(LOCK_UNTIL_MS.into(), number(lock));
        }
        item
    }
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn get(&self, key: &str) -> Result<Option<Fields>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &e))?;
        Ok(output.item.filter(|item| expires_of(item) >= now_secs()).map(|item| fields_of(&item)))
    }

    async fn claim(
        &self,
        key: &str,
        fields: &Fields,
        lock_until_ms: Option<u64>,
        expires_at: u64,
    ) -> Result<Claim, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(key, fields, lock_until_ms, expires_at)))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now OR #lock < :now_ms")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#lock", LOCK_UNTIL_MS)
            .expression_attribute_values(":now", number(now_secs()))
            .expression_attribute_values(":now_ms", number(now_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(error) if is_condition_failure(&error) => {
                let old = match error.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                    _ => None,
                };
                match old {
                    Some(item) => Ok(Claim::Taken(fields_of(&item))),
                    // Not every DynamoDB-compatible store returns the old item.
                    None => Ok(Claim::Taken(self.get(key).await?.unwrap_or_default())),
                }
            }
            Err(error) => Err(store_error("PutItem", &error)),
        }
    }

    async fn put(&self, key: &str, fields: &Fields, expires_at: u64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(key, fields, None, expires_at)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error("PutItem", &e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error("DeleteItem", &e))
    }

    async fn count(&self, key: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .update_expression("ADD #hits :one SET #exp = :exp")
            .condition_expression("attribute_not_exists(#hits) OR #hits < :limit")
            .expression_attribute_names("#hits", HITS)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":limit", number(limit.into()))
            .expression_attribute_values(":exp", number(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(store_error("UpdateItem", &error)),
        }
    }

    async fn use_existing(&self, key: &str, limit: Option<u32>) -> Result<Use, StoreError> {
        // One conditional UpdateItem: the item must be there and live, and below its limit.
        let mut condition = String::from("attribute_exists(#pk) AND #exp >= :now");
        if limit.is_some() {
            condition.push_str(" AND (attribute_not_exists(#hits) OR #hits < :limit)");
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .update_expression("ADD #hits :one")
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#hits", HITS)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":now", number(now_secs()))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(limit) = limit {
            update = update.expression_attribute_values(":limit", number(limit.into()));
        }
        match update.send().await {
            Ok(output) => {
                let hits = output.attributes.as_ref().and_then(|a| a.get(HITS)).and_then(|v| v.as_n().ok());
                Ok(Use::Counted(hits.and_then(|n| n.parse().ok()).unwrap_or(1)))
            }
            Err(error) if is_condition_failure(&error) => {
                let old = match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                    _ => None,
                };
                // A live item that failed the condition is at its limit; else it is gone.
                let live = match old {
                    Some(item) => expires_of(&item) >= now_secs(),
                    None => self.get(key).await?.is_some(),
                };
                Ok(if live { Use::Exhausted } else { Use::Missing })
            }
            Err(error) => Err(store_error("UpdateItem", &error)),
        }
    }

    async fn transition(
        &self,
        key: &str,
        field: &str,
        from: &[&str],
        changes: &Fields,
    ) -> Result<Transition, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#field", field)
            .expression_attribute_values(":now", number(now_secs()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut sets = Vec::new();
        for (i, (name, value)) in changes.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(format!(":c{i}"), AttributeValue::S(value.clone()));
            sets.push(format!("#c{i} = :c{i}"));
        }
        let mut states = Vec::new();
        for (i, state) in from.iter().enumerate() {
            update = update.expression_attribute_values(format!(":f{i}"), AttributeValue::S(state.to_string()));
            states.push(format!(":f{i}"));
        }
        let condition = format!("attribute_exists(#pk) AND #exp >= :now AND #field IN ({})", states.join(", "));
        let result =
            update.update_expression(format!("SET {}", sets.join(", "))).condition_expression(condition).send().await;
        match result {
            Ok(output) => Ok(Transition::Done(output.attributes.as_ref().map(fields_of).unwrap_or_default())),
            Err(error) if is_condition_failure(&error) => {
                let old = match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                    _ => None,
                };
                let old = match old {
                    Some(item) => Some(item).filter(|item| expires_of(item) >= now_secs()).map(|item| fields_of(&item)),
                    None => self.get(key).await?,
                };
                Ok(old.map_or(Transition::Missing, Transition::Refused))
            }
            Err(error) => Err(store_error("UpdateItem", &error)),
        }
    }

    async fn add_member(&self, key: &str, member: &str, limit: u32, expires_at: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .update_expression("ADD #members :member SET #exp = :exp")
            .condition_expression(
                "attribute_not_exists(#pk) OR (#exp >= :now AND (attribute_not_exists(#members) \
                 OR size(#members) < :limit OR contains(#members, :one)))",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#members", SET_MEMBERS)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":member", AttributeValue::Ss(vec![member.to_string()]))
            .expression_attribute_values(":one", AttributeValue::S(member.to_string()))
            .expression_attribute_values(":limit", number(limit.into()))
            .expression_attribute_values(":exp", number(expires_at))
            .expression_attribute_values(":now", number(now_secs()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(_) => return Ok(true),
            Err(error) if is_condition_failure(&error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                _ => None,
            },
            Err(error) => return Err(store_error("UpdateItem", &error)),
        };
        if old.is_some_and(|item| expires_of(&item) >= now_secs()) {
            return Ok(false); // a live set at its limit
        }
        // An expired set (DynamoDB deletes late) starts again with this member, unless another
        // writer restarted it first.
        let mut item = HashMap::from([
            (PK.to_string(), AttributeValue::S(key.to_string())),
            (SET_MEMBERS.to_string(), AttributeValue::Ss(vec![member.to_string()])),
        ]);
        item.insert(EXPIRES_AT.into(), number(expires_at));
        let restarted = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", number(now_secs()))
            .send()
            .await;
        match restarted {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => {
                Box::pin(self.add_member(key, member, limit, expires_at)).await
            }
            Err(error) => Err(store_error("PutItem", &error)),
        }
    }

    async fn remove_member(&self, key: &str, member: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .update_expression("DELETE #members :member")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#members", SET_MEMBERS)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":member", AttributeValue::Ss(vec![member.to_string()]))
            .send()
            .await
            .map(|_| ())
            .or_else(|error| if is_condition_failure(&error) { Ok(()) } else { Err(store_error("UpdateItem", &error)) })
    }

    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &e))?;
        let Some(item) = output.item.filter(|item| expires_of(item) >= now_secs()) else { return Ok(Vec::new()) };
        let mut members = item.get(SET_MEMBERS).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        members.sort();
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn memory_claims_once_until_expiry_or_a_lapsed_lock() {
        let store = MemoryStore::default();
        let later = now_secs() + 60;
        let a = fields(&[("owner", "a")]);
        assert_eq!(store.claim("k", &a, None, later).await.unwrap(), Claim::Claimed);
        assert_eq!(store.claim("k", &fields(&[("owner", "b")]), None, later).await.unwrap(), Claim::Taken(a.clone()));
        // Expired: absent.
        store.put("k", &a, now_secs() - 1).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None);
        assert_eq!(store.claim("k", &a, None, later).await.unwrap(), Claim::Claimed);
        // A lapsed lock is claimable; a live one is not.
        store.claim("lock", &a, Some(now_millis() - 1), later).await.unwrap();
        assert_eq!(store.claim("lock", &a, Some(now_millis() + 60_000), later).await.unwrap(), Claim::Claimed);
        assert!(matches!(store.claim("lock", &a, None, later).await.unwrap(), Claim::Taken(_)));
        // put drops the lock: the item is held until it expires.
        store.put("lock", &a, later).await.unwrap();
        assert!(matches!(store.claim("lock", &a, None, later).await.unwrap(), Claim::Taken(_)));
        store.delete("lock").await.unwrap();
        assert_eq!(store.get("lock").await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_transitions_once_and_keeps_sets_within_their_limit() {
        let store = MemoryStore::default();
        let later = now_secs() + 60;
        store.put("r", &fields(&[("status", "waiting")]), later).await.unwrap();
        let admit = fields(&[("status", "admitted")]);
        assert!(matches!(store.transition("r", "status", &["waiting"], &admit).await.unwrap(), Transition::Done(_)));
        let deny = fields(&[("status", "denied")]);
        let refused = store.transition("r", "status", &["waiting"], &deny).await.unwrap();
        assert_eq!(refused, Transition::Refused(admit.clone()), "one outcome");
        assert_eq!(store.transition("none", "status", &["waiting"], &deny).await.unwrap(), Transition::Missing);
        assert!(store.add_member("set", "a", 2, later).await.unwrap());
        assert!(store.add_member("set", "b", 2, later).await.unwrap());
        assert!(store.add_member("set", "a", 2, later).await.unwrap(), "already a member");
        assert!(!store.add_member("set", "c", 2, later).await.unwrap(), "full");
        store.remove_member("set", "a").await.unwrap();
        assert!(store.add_member("set", "c", 2, later).await.unwrap());
        assert_eq!(store.members("set").await.unwrap(), ["b", "c"]);
    }

    #[tokio::test]
    async fn memory_counts_up_to_the_limit() {
        let store = MemoryStore::default();
        let later = now_secs() + 60;
        let mut allowed = Vec::new();
        for _ in 0..3 {
            allowed.push(store.count("jane", 2, later).await.unwrap());
        }
        assert_eq!(allowed, [true, true, false]);
        assert!(store.count("other", 2, later).await.unwrap(), "per key");
    }

    #[tokio::test]
    async fn memory_uses_existing_items_only_up_to_the_limit() {
        let store = MemoryStore::default();
        let later = now_secs() + 60;
        assert_eq!(store.use_existing("link", Some(2)).await.unwrap(), Use::Missing, "never created by a use");
        store.claim("link", &fields(&[("room", "r")]), None, later).await.unwrap();
        assert_eq!(store.use_existing("link", Some(2)).await.unwrap(), Use::Counted(1));
        assert_eq!(store.use_existing("link", Some(2)).await.unwrap(), Use::Counted(2));
        assert_eq!(store.use_existing("link", Some(2)).await.unwrap(), Use::Exhausted);
        store.claim("open", &Fields::new(), None, later).await.unwrap();
        for n in 1..=3 {
            assert_eq!(store.use_existing("open", None).await.unwrap(), Use::Counted(n));
        }
        store.delete("link").await.unwrap();
        assert_eq!(store.use_existing("link", Some(2)).await.unwrap(), Use::Missing, "revoked stays revoked");
        store.put("old", &Fields::new(), now_secs() - 1).await.unwrap();
        assert_eq!(store.use_existing("old", None).await.unwrap(), Use::Missing, "expired");
    }
}
