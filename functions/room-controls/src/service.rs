//! The room controls as a service: built once per process, each route of the route table
//! mapped to its handler, explicitly. Lambda, the local server and the tests call it with
//! plain `http::Request` values.

use std::sync::Arc;

use lambda_http::http::{Method, Request, Response};
use lambda_http::Body;
use livekit_lambda_shared::credential_store::CredentialStore;
use livekit_lambda_shared::routes::{self, Function, Matched, Route};
use livekit_lambda_shared::state::{self, MemoryStore, SharedStore};
use livekit_lambda_shared::web::{CorsPolicy, ErrorResponse, RequestFacts};
use livekit_lambda_shared::{pipeline, EnvSettings, Feature, Service};

use crate::context::Context;
use crate::lobby::{decide, knock, wait};
use crate::moderation::{end, me, participant, removal};
use crate::settings::RoomControlsSettings;

/// Cheap to clone: one per process, shared by every request.
#[derive(Clone, Debug)]
pub struct RoomControlsService {
    context: Arc<Context>,
}

/// The room controls' handlers, one per route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// `POST /guest/lobby`: a link's guest knocks.
    GuestKnock,
    /// `GET`/`POST /guest/lobby/{request}`: whoever knocked waits, then collects the token.
    Wait,
    /// `GET /rooms/{room}/lobby` lists (moderators); `POST` knocks (signed-in users).
    RoomLobby,
    /// `PUT /rooms/{room}/lobby/{request}`: a moderator admits or denies.
    Decide,
    /// `DELETE /rooms/{room}`: a moderator ends the meeting.
    EndMeeting,
    /// `PATCH` (mute, role) / `DELETE` (remove) `/rooms/{room}/participants/{identity}`.
    Participant,
    /// `DELETE /rooms/{room}/removals/{identity}`: a moderator lifts a removal.
    LiftRemoval,
    /// `PATCH /rooms/{room}/me`: a participant's hand and name.
    Me,
}

/// The routes of the waiting room; the others are the moderator controls'.
const LOBBY_ROUTES: [&str; 4] =
    [routes::GUEST_LOBBY, routes::GUEST_LOBBY_REQUEST, routes::ROOM_LOBBY, routes::ROOM_LOBBY_REQUEST];

impl RoomControlsService {
    /// In-process state: one process is the whole fleet (tests, `make dev`).
    pub fn new(settings: RoomControlsSettings, credentials: Arc<CredentialStore>) -> Self {
        Self::with_store(settings, credentials, Arc::new(MemoryStore::default()))
    }

    pub fn with_store(settings: RoomControlsSettings, credentials: Arc<CredentialStore>, store: SharedStore) -> Self {
        Self { context: Arc::new(Context::new(settings, credentials, store)) }
    }

    /// The same service on another fleet store (tests: two containers on one table).
    pub fn with_shared_store(self, store: SharedStore) -> Self {
        let context = &self.context;
        Self::with_store(context.settings.clone(), context.credentials.clone(), store)
    }

    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        pipeline::handle(self, request).await
    }
}

impl Service for RoomControlsService {
    const FUNCTION: Function = Function::RoomControls;
    // It verifies participants' LiveKit tokens (`/rooms/{room}/me`), so it reads the keys
    // that only verify during a rotation too.
    type Handler = Handler;

    fn handler(path: &str) -> Option<Handler> {
        match path {
            routes::GUEST_LOBBY => Some(Handler::GuestKnock),
            routes::GUEST_LOBBY_REQUEST => Some(Handler::Wait),
            routes::ROOM_LOBBY => Some(Handler::RoomLobby),
            routes::ROOM_LOBBY_REQUEST => Some(Handler::Decide),
            routes::ROOM => Some(Handler::EndMeeting),
            routes::ROOM_PARTICIPANT => Some(Handler::Participant),
            routes::ROOM_REMOVAL => Some(Handler::LiftRemoval),
            routes::ROOM_ME => Some(Handler::Me),
            _ => None,
        }
    }

    /// A knocking guest's room link is checked with the room-link keys.
    fn reads_room_link_keys(env: &EnvSettings) -> bool {
        env.on_off("LOBBY").unwrap_or(false)
    }

    async fn with_credentials(
        env: &EnvSettings,
        credentials: Arc<CredentialStore>,
    ) -> Result<Self, livekit_lambda_shared::Error> {
        let settings = RoomControlsSettings::from_env(env)?;
        Ok(Self::with_store(settings, credentials, state::from_env(env).await?))
    }

    fn credentials(&self) -> &CredentialStore {
        &self.context.credentials
    }

    fn cors(&self) -> &CorsPolicy {
        &self.context.settings.cors
    }

    /// Off (`LOBBY` and `MODERATION` unset or `off`): 404 everywhere.
    fn enabled(&self) -> bool {
        let settings = &self.context.settings;
        settings.lobby.enabled || settings.moderation.enabled
    }

    /// Each feature's routes exist only while it is on.
    fn serves(&self, route: &Route) -> bool {
        let settings = &self.context.settings;
        if LOBBY_ROUTES.contains(&route.path) {
            settings.lobby.enabled
        } else {
            settings.moderation.enabled
        }
    }

    fn features(&self) -> Vec<Feature> {
        let settings = &self.context.settings;
        vec![
            Feature {
                name: "waiting room (/guest/lobby, /rooms/{room}/lobby)",
                on: settings.lobby.enabled,
                switch: "LOBBY=on with AUTH_MODE=jwt (and ROOM_LINK_KEYS for guests with links)",
            },
            Feature {
                name: "moderator controls (/rooms/{room}, …/participants/{identity}, …/removals/{identity}, …/me)",
                on: settings.moderation.enabled,
                switch: "MODERATION=on with AUTH_MODE=jwt",
            },
        ]
    }

    async fn call(
        &self,
        handler: Handler,
        route: Matched<'_>,
        request: &Request<Body>,
        facts: &mut RequestFacts,
    ) -> Result<Response<Body>, ErrorResponse> {
        let context = &self.context;
        match handler {
            Handler::GuestKnock => knock::guest(context, request, facts).await,
            Handler::Wait => wait::wait(context, &route, request, facts).await,
            Handler::RoomLobby if request.method() == Method::GET => {
                decide::list(context, &route, request, facts).await
            }
            Handler::RoomLobby => knock::user(context, &route, request, facts).await,
            Handler::Decide => decide::decide(context, &route, request, facts).await,
            Handler::EndMeeting => end::end(context, &route, request, facts).await,
            Handler::Participant if request.method() == Method::PATCH => {
                participant::change(context, &route, request, facts).await
            }
            Handler::Participant => participant::remove(context, &route, request, facts).await,
            Handler::LiftRemoval => removal::lift(context, &route, request, facts).await,
            Handler::Me => me::update(context, &route, request, facts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_function_has_a_handler() {
        assert_eq!(pipeline::unhandled_routes::<RoomControlsService>(), Vec::<&str>::new());
    }
}
