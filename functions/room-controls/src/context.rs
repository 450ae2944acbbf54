//! What every handler of the room controls reads: the settings, the credentials (LiveKit's,
//! and the room-link keys a knocking guest's link is checked with), the fleet store and
//! LiveKit's API clients. Built once per process; handlers get it by reference.

use std::sync::Arc;

use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::livekit::{ClientCache, LiveKitClients};
use livekit_lambda_shared::state::SharedStore;
use livekit_lambda_shared::Error;

use crate::settings::RoomControlsSettings;

#[derive(Debug)]
pub struct Context {
    pub settings: RoomControlsSettings,
    pub credentials: Arc<CredentialStore>,
    pub store: SharedStore,
    clients: ClientCache,
}

impl Context {
    pub fn new(settings: RoomControlsSettings, credentials: Arc<CredentialStore>, store: SharedStore) -> Self {
        let clients = ClientCache::new(settings.api_timeout);
        Self { settings, credentials, store, clients }
    }

    /// LiveKit's API with the current credentials.
    pub async fn livekit(&self) -> Result<Arc<LiveKitClients>, Error> {
        let credentials = self.credentials.current().await?;
        Ok(self.clients.clients(&credentials).await)
    }
}
