//! What every handler of the token generator reads: its settings, the credentials it signs
//! with, the fleet store (room links' records; the room's moderators' decisions) and how
//! often a link signed by an unknown key may re-read SSM. Built once per process; handlers
//! get it by reference.

use std::sync::Arc;
use std::time::Duration;

use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::state::SharedStore;

use crate::settings::TokenSettings;

#[derive(Clone, Debug)]
pub struct Context {
    pub settings: TokenSettings,
    pub credentials: Arc<CredentialStore>,
    /// Room links' records (`links#<id>`): present when `STATE_TABLE` is set and links are
    /// on; without it links are stateless (no `max_uses`, no revocation).
    pub link_store: Option<SharedStore>,
    /// What the room controls' moderators decided (`controls#member#…`, read only): present
    /// with `MODERATION=on` and a store (`STATE_TABLE`, or the local server's).
    pub member_store: Option<SharedStore>,
    /// `CREDENTIALS_FORCED_REFRESH_SECONDS`: a link signed by a key this container does not
    /// know yet re-reads SSM at most this often.
    pub forced_refresh: Duration,
}
