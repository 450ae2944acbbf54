//! The one-time reconciliation of dial-in rules made before the state table existed
//! (docs/state.md): joins and room ends find a room's rule through the table only, so a
//! rule the table does not know would outlive its room. Run once after the table is
//! deployed (`cargo run -p local-server --bin reconcile-dial-in`); running it again is
//! harmless and reports nothing to do.
//!
//! It reads LiveKit's rule list once. livekit-api's Rust client sends
//! `ListSIPDispatchRule` without a page, and livekit-server then walks every page of its
//! store itself and answers all rules in one response (livekit/livekit
//! `pkg/service/sip.go`); LiveKit Cloud does not document its behaviour. If a response
//! were ever cut short, the rules left out are handled by the next run.

use std::collections::{BTreeMap, HashSet};

use livekit_api::services::sip::ListSIPDispatchRuleFilter;
use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::livekit::{ApiFailure, ClientCache, LiveKitClients};
use livekit_lambda_shared::settings::{EnvSettings, Runtime};
use livekit_lambda_shared::state::{self, StateStore};
use serde::Serialize;

use crate::actions::dial_in;
use crate::actions::ActionError;
use crate::settings::WebhookSettings;

/// What a run did, printed as JSON by the command.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Rules this function manages, found in LiveKit.
    pub managed_rules: usize,
    /// Rules of live rooms now recorded in the table.
    pub adopted: usize,
    /// Rules already recorded.
    pub kept: usize,
    /// Rules of rooms that no longer exist, and second rules of one room.
    pub deleted: usize,
}

/// Rooms asked about per ListRooms call.
const ROOMS_PER_CALL: usize = 100;

pub async fn reconcile_dial_in(
    clients: &LiveKitClients,
    store: &dyn StateStore,
) -> Result<Reconciliation, ActionError> {
    let rules = clients
        .sip()
        .list_sip_dispatch_rule(ListSIPDispatchRuleFilter::All)
        .await
        .map_err(|e| ApiFailure::from_service_error("SIP.ListSIPDispatchRule", &e))?;
    let mut by_room: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for rule in &rules {
        if let Some((room, pin)) = dial_in::managed_rule(rule) {
            by_room.entry(room.to_string()).or_default().push((rule.sip_dispatch_rule_id.clone(), pin.to_string()));
        }
    }
    let names: Vec<String> = by_room.keys().cloned().collect();
    let mut live = HashSet::new();
    for chunk in names.chunks(ROOMS_PER_CALL) {
        let rooms = clients
            .room()
            .list_rooms(chunk.to_vec())
            .await
            .map_err(|e| ApiFailure::from_service_error("RoomService.ListRooms", &e))?;
        live.extend(rooms.into_iter().map(|room| room.name));
    }

    let mut report = Reconciliation { managed_rules: by_room.values().map(Vec::len).sum(), ..Default::default() };
    for (room, mut rules) in by_room {
        rules.sort();
        let keep = if live.contains(&room) {
            dial_in::adopt_rule(store, &room, &rules[0].0, &rules[0].1).await?
        } else {
            dial_in::forget_room(store, &room).await?;
            None
        };
        match &keep {
            Some((rule_id, true)) if rules.iter().any(|(id, _)| id == rule_id) => report.adopted += 1,
            Some((rule_id, false)) if rules.iter().any(|(id, _)| id == rule_id) => report.kept += 1,
            _ => {}
        }
        for (rule_id, _) in rules.iter().filter(|(id, _)| keep.as_ref().map(|(k, _)| k) != Some(id)) {
            dial_in::delete_rule(clients, &room, rule_id).await?;
            report.deleted += 1;
        }
    }
    tracing::info!(?report, "dial-in rules reconciled with the state table");
    Ok(report)
}

/// The command's whole run: the deployment's own settings (credentials from SSM or the
/// LiveKit variables, `STATE_TABLE`), refusing to run without a table or without SIP.
pub async fn reconcile_from_env(env: &EnvSettings) -> Result<Reconciliation, Box<dyn std::error::Error>> {
    if env.non_empty("STATE_TABLE").is_none() {
        return Err(
            "STATE_TABLE must name the deployment's state table (an in-process store would forget at once)".into()
        );
    }
    let settings = WebhookSettings::from_env(env)?;
    if settings.sip.is_none() {
        return Err("SIP_TRUNK_ID is not set: this deployment manages no dial-in rules".into());
    }
    let credentials = CredentialStore::from_env(env, Runtime::Local).await?.current().await?;
    let store = state::from_env(env).await?;
    let clients = ClientCache::new(settings.api_timeout).clients(&credentials).await;
    Ok(reconcile_dial_in(&clients, store.as_ref()).await?)
}
