//! The one route table: which function answers which path and methods. The functions'
//! request pipeline, the local server, the test harness, the template test and the
//! events test all read it, so a route cannot be known in one place and missing in another.

use lambda_http::http::Method;

/// A deployed function, by the name of its binary (and crate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    TokenGenerator,
    WebhookReceiver,
    SubtitleDispatcher,
    RoomControls,
}

impl Function {
    pub const ALL: [Function; 4] =
        [Function::TokenGenerator, Function::WebhookReceiver, Function::SubtitleDispatcher, Function::RoomControls];

    /// The binary's name (`cargo lambda build --bin <name>`).
    pub fn binary(self) -> &'static str {
        match self {
            Function::TokenGenerator => "token-generator",
            Function::WebhookReceiver => "webhook-receiver",
            Function::SubtitleDispatcher => "subtitle-dispatcher",
            Function::RoomControls => "room-controls",
        }
    }

    pub fn from_binary(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.binary() == name)
    }

    pub fn routes(self) -> impl Iterator<Item = &'static Route> {
        ROUTES.iter().filter(move |route| route.function == self)
    }
}

/// One route: a path as API Gateway writes it (`{name}` is one path segment) and the
/// methods the function answers there. Other methods get `405` with `Allow`.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub function: Function,
    pub path: &'static str,
    pub methods: &'static [Method],
    /// Behind the JWT authorizer when authentication is on (API Gateway's, or the local
    /// server's identical check): the caller's verified claims reach the function.
    /// `OPTIONS` (a browser's CORS preflight carries no token) is never guarded.
    pub guarded: bool,
}

pub const TOKEN: &str = "/token";
pub const HEALTH: &str = "/health";
pub const WEBHOOK: &str = "/webhook";
pub const SUBTITLES: &str = "/rooms/{room}/subtitles";
/// Room links (docs/room-links.md): created and revoked by verified callers, redeemed by
/// guests at `/guest/token`, which no authorizer guards because a guest has no account.
pub const ROOM_LINKS: &str = "/rooms/{room}/links";
pub const ROOM_LINK: &str = "/rooms/{room}/links/{link}";
pub const GUEST_TOKEN: &str = "/guest/token";
/// The waiting room (docs/waiting-room.md): a link holder knocks at `/guest/lobby` and polls
/// `/guest/lobby/{request}` (no authorizer: a guest has no account, the request id is the
/// proof); a signed-in user knocks at `/rooms/{room}/lobby`, where moderators list who waits
/// and, at `/rooms/{room}/lobby/{request}`, admit or deny.
pub const GUEST_LOBBY: &str = "/guest/lobby";
pub const GUEST_LOBBY_REQUEST: &str = "/guest/lobby/{request}";
pub const ROOM_LOBBY: &str = "/rooms/{room}/lobby";
pub const ROOM_LOBBY_REQUEST: &str = "/rooms/{room}/lobby/{request}";
/// Moderator controls (docs/moderators.md): a moderator of the room ends the meeting
/// (`DELETE /rooms/{room}`), mutes a participant or changes their role (`PATCH
/// …/participants/{identity}`), removes them (`DELETE`) and lifts a removal (`DELETE
/// /rooms/{room}/removals/{identity}`); a participant, proven by their own LiveKit token,
/// raises their hand or renames themselves (`PATCH /rooms/{room}/me`).
pub const ROOM: &str = "/rooms/{room}";
pub const ROOM_PARTICIPANT: &str = "/rooms/{room}/participants/{identity}";
pub const ROOM_REMOVAL: &str = "/rooms/{room}/removals/{identity}";
pub const ROOM_ME: &str = "/rooms/{room}/me";

const TOKEN_METHODS: &[Method] = &[Method::GET, Method::POST, Method::OPTIONS];

pub const ROUTES: &[Route] = &[
    Route { function: Function::TokenGenerator, path: TOKEN, methods: TOKEN_METHODS, guarded: true },
    Route { function: Function::TokenGenerator, path: HEALTH, methods: &[Method::GET], guarded: false },
    Route { function: Function::TokenGenerator, path: GUEST_TOKEN, methods: TOKEN_METHODS, guarded: false },
    Route {
        function: Function::TokenGenerator,
        path: ROOM_LINKS,
        methods: &[Method::POST, Method::OPTIONS],
        guarded: true,
    },
    Route {
        function: Function::TokenGenerator,
        path: ROOM_LINK,
        methods: &[Method::DELETE, Method::OPTIONS],
        guarded: true,
    },
    Route { function: Function::WebhookReceiver, path: WEBHOOK, methods: &[Method::POST], guarded: false },
    Route {
        function: Function::SubtitleDispatcher,
        path: SUBTITLES,
        methods: &[Method::POST, Method::DELETE, Method::OPTIONS],
        guarded: false,
    },
    Route {
        function: Function::RoomControls,
        path: GUEST_LOBBY,
        methods: &[Method::POST, Method::OPTIONS],
        guarded: false,
    },
    Route {
        function: Function::RoomControls,
        path: GUEST_LOBBY_REQUEST,
        methods: &[Method::GET, Method::POST, Method::OPTIONS],
        guarded: false,
    },
    Route {
        function: Function::RoomControls,
        path: ROOM_LOBBY,
        methods: &[Method::GET, Method::POST, Method::OPTIONS],
        guarded: true,
    },
    Route {
        function: Function::RoomControls,
        path: ROOM_LOBBY_REQUEST,
        methods: &[Method::PUT, Method::OPTIONS],
        guarded: true,
    },
    Route { function: Function::RoomControls, path: ROOM, methods: &[Method::DELETE, Method::OPTIONS], guarded: true },
    Route {
        function: Function::RoomControls,
        path: ROOM_PARTICIPANT,
        methods: &[Method::PATCH, Method::DELETE, Method::OPTIONS],
        guarded: true,
    },
    Route {
        function: Function::RoomControls,
        path: ROOM_REMOVAL,
        methods: &[Method::DELETE, Method::OPTIONS],
        guarded: true,
    },
    // Proven by the participant's own LiveKit token, as the subtitle route is.
    Route {
        function: Function::RoomControls,
        path: ROOM_ME,
        methods: &[Method::PATCH, Method::OPTIONS],
        guarded: false,
    },
];

/// A request path matched against the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'static Route,
    /// The raw (still percent-encoded) `{…}` segments, in order, for routes that have them.
    pub segments: Vec<&'a str>,
}

impl<'a> Matched<'a> {
    /// The first `{…}` segment (the room, on every route that has one).
    pub fn segment(&self) -> Option<&'a str> {
        self.segments.first().copied()
    }
}

/// The route a path belongs to, whichever function serves it.
pub fn find(path: &str) -> Option<Matched<'_>> {
    ROUTES.iter().find_map(|route| matches(route, path))
}

/// Compares segment by segment: a `{…}` segment matches one non-empty path segment.
fn matches<'a>(route: &'static Route, path: &'a str) -> Option<Matched<'a>> {
    let mut template = route.path.split('/');
    let mut given = path.split('/');
    let mut segments = Vec::new();
    loop {
        match (template.next(), given.next()) {
            (None, None) => return Some(Matched { route, segments }),
            (Some(t), Some(g)) if t.starts_with('{') && t.ends_with('}') && !g.is_empty() => segments.push(g),
            (Some(t), Some(g)) if t == g => {}
            _ => return None,
        }
    }
}

/// The method list as an `Allow` header value.
pub fn allow_header(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_route_and_function() {
        let found = |path| find(path).map(|m| (m.route.function, m.route.path, m.segments));
        assert_eq!(found("/token"), Some((Function::TokenGenerator, TOKEN, vec![])));
        assert_eq!(found("/health"), Some((Function::TokenGenerator, HEALTH, vec![])));
        assert_eq!(found("/guest/token"), Some((Function::TokenGenerator, GUEST_TOKEN, vec![])));
        assert_eq!(found("/webhook"), Some((Function::WebhookReceiver, WEBHOOK, vec![])));
        assert_eq!(found("/rooms/a%20b/subtitles"), Some((Function::SubtitleDispatcher, SUBTITLES, vec!["a%20b"])));
        assert_eq!(found("/rooms/r/links"), Some((Function::TokenGenerator, ROOM_LINKS, vec!["r"])));
        assert_eq!(found("/rooms/r/links/l-1"), Some((Function::TokenGenerator, ROOM_LINK, vec!["r", "l-1"])));
        assert_eq!(found("/guest/lobby"), Some((Function::RoomControls, GUEST_LOBBY, vec![])));
        assert_eq!(found("/guest/lobby/q1"), Some((Function::RoomControls, GUEST_LOBBY_REQUEST, vec!["q1"])));
        assert_eq!(found("/rooms/r/lobby"), Some((Function::RoomControls, ROOM_LOBBY, vec!["r"])));
        assert_eq!(found("/rooms/r/lobby/q1"), Some((Function::RoomControls, ROOM_LOBBY_REQUEST, vec!["r", "q1"])));
        assert_eq!(found("/rooms/r"), Some((Function::RoomControls, ROOM, vec!["r"])));
        assert_eq!(
            found("/rooms/r/participants/user:u-1"),
            Some((Function::RoomControls, ROOM_PARTICIPANT, vec!["r", "user:u-1"]))
        );
        assert_eq!(
            found("/rooms/r/removals/guest:l1"),
            Some((Function::RoomControls, ROOM_REMOVAL, vec!["r", "guest:l1"]))
        );
        assert_eq!(found("/rooms/r/me"), Some((Function::RoomControls, ROOM_ME, vec!["r"])));
        for none in [
            "/tokens",
            "/",
            "/rooms//subtitles",
            "/rooms/a/b/subtitles",
            "/rooms/a/subtitles/",
            "/rooms/a/links/",
            "/rooms/a/links/b/c",
            "/rooms//links/b",
            "/token/",
        ] {
            assert_eq!(found(none), None, "{none}");
        }
    }

    #[test]
    fn every_function_has_routes_and_binaries_round_trip() {
        for function in Function::ALL {
            assert!(function.routes().count() > 0, "{function:?}");
            assert_eq!(Function::from_binary(function.binary()), Some(function));
        }
        assert_eq!(allow_header(ROUTES[0].methods), "GET, POST, OPTIONS");
    }
}
