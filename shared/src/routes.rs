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
}

impl Function {
    pub const ALL: [Function; 3] = [Function::TokenGenerator, Function::WebhookReceiver, Function::SubtitleDispatcher];

    /// The binary's name (`cargo lambda build --bin <name>`).
    pub fn binary(self) -> &'static str {
        match self {
            Function::TokenGenerator => "token-generator",
            Function::WebhookReceiver => "webhook-receiver",
            Function::SubtitleDispatcher => "subtitle-dispatcher",
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
}

pub const TOKEN: &str = "/token";
pub const HEALTH: &str = "/health";
pub const WEBHOOK: &str = "/webhook";
pub const SUBTITLES: &str = "/rooms/{room}/subtitles";

pub const ROUTES: &[Route] = &[
    Route { function: Function::TokenGenerator, path: TOKEN, methods: &[Method::GET, Method::POST, Method::OPTIONS] },
    Route { function: Function::TokenGenerator, path: HEALTH, methods: &[Method::GET] },
    Route { function: Function::WebhookReceiver, path: WEBHOOK, methods: &[Method::POST] },
    Route {
        function: Function::SubtitleDispatcher,
        path: SUBTITLES,
        methods: &[Method::POST, Method::DELETE, Method::OPTIONS],
    },
];

/// A request path matched against the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'static Route,
    /// The raw (still percent-encoded) `{…}` segment, for routes that have one.
    pub segment: Option<&'a str>,
}

/// The route a path belongs to, whichever function serves it.
pub fn find(path: &str) -> Option<Matched<'_>> {
    ROUTES.iter().find_map(|route| matches(route, path))
}

fn matches<'a>(route: &'static Route, path: &'a str) -> Option<Matched<'a>> {
    match route.path.split_once('{') {
        None => (route.path == path).then_some(Matched { route, segment: None }),
        Some((prefix, rest)) => {
            let suffix = rest.split_once('}').map_or("", |(_, suffix)| suffix);
            let segment = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
            (!segment.is_empty() && !segment.contains('/')).then_some(Matched { route, segment: Some(segment) })
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
        let found = |path| find(path).map(|m| (m.route.function, m.route.path, m.segment));
        assert_eq!(found("/token"), Some((Function::TokenGenerator, TOKEN, None)));
        assert_eq!(found("/health"), Some((Function::TokenGenerator, HEALTH, None)));
        assert_eq!(found("/webhook"), Some((Function::WebhookReceiver, WEBHOOK, None)));
        assert_eq!(found("/rooms/a%20b/subtitles"), Some((Function::SubtitleDispatcher, SUBTITLES, Some("a%20b"))));
        for none in ["/tokens", "/", "/rooms//subtitles", "/rooms/a/b/subtitles", "/rooms/a/subtitles/"] {
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
