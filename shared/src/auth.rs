//! Who is asking, for every function that authenticates its callers (the token generator's
//! `/token` and room links, the room controls' moderators): the caller, as API Gateway's JWT
//! authorizer (or the local server's identical check) vouches for it, and which rooms it may
//! enter. What a caller then gets is each function's to decide.
//!
//! The function never verifies a bearer token itself. API Gateway verifies signature,
//! issuer, audience, expiry and the route's scopes, then passes the claims in
//! `requestContext.authorizer.jwt`; the local server does the same checks and passes the
//! claims the same way. So one code path here, whichever side of the deployment runs it.

use std::collections::HashMap;

use lambda_http::http::{Request, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use crate::attributes as attribute;
use crate::error::Error;
use crate::settings::EnvSettings;
use crate::validate::{Identity, NameLimit};
use crate::web::HttpError;
use crate::web::InvalidName;

/// Why a caller is refused: no verified token, not the scope a route needs, or a room it may
/// not enter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{0}")]
    RoomNotAllowed(String),
}

impl HttpError for AuthError {
    fn status(&self) -> StatusCode {
        match self {
            AuthError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AuthError::InsufficientScope(_) | AuthError::RoomNotAllowed(_) => StatusCode::FORBIDDEN,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthenticated(_) => "unauthenticated",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::RoomNotAllowed(_) => "room_not_allowed",
        }
    }
}

/// `AUTH_*` settings. Off by default: the open `/token` is the zero-config path.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthSettings {
    /// `AUTH_MODE`: `off` (default) or `jwt`.
    pub enabled: bool,
    /// `AUTH_ISSUER`: when set, the `iss` claim must equal it (API Gateway already
    /// checked it; this catches a template that points the authorizer elsewhere).
    pub issuer: Option<String>,
    /// `AUTH_USER_SCOPE` (default `livekit/join`): lets a caller get a token for itself.
    /// Empty: any verified caller may (for OIDC ID tokens, which carry no scope).
    pub user_scope: Option<String>,
    /// `AUTH_MINT_SCOPE` (default `livekit/token`): lets a caller (an application, via
    /// client credentials) mint tokens for participants it names.
    pub mint_scope: String,
    /// `AUTH_ADMIN_SCOPE` (default `livekit/admin`): tokens get `roomAdmin`.
    pub admin_scope: Option<String>,
    /// `AUTH_ADMIN_CLAIM` as `claim=value` (e.g. `cognito:groups=moderators`): a caller
    /// whose claim holds the value gets `roomAdmin` too.
    pub admin_claim: Option<(String, String)>,
    /// `AUTH_NAME_CLAIMS`: the first of these claims present is the display name.
    pub name_claims: Vec<String>,
    /// `AUTH_IDENTITY_PREFIX` (default `user:`): identity = prefix + `sub`.
    pub identity_prefix: String,
    /// `AUTH_OWNER_PREFIX` (default `owner:`): `auth.owner` = prefix + client id.
    pub owner_prefix: String,
    /// `AUTH_ROOMS_CLAIM`: a claim listing the rooms the caller may join (`name` or
    /// `prefix*`). When set, a caller without the claim gets no token.
    pub rooms_claim: Option<String>,
    /// `AUTH_CLIENT_ROOM_PREFIXES` as `client=prefix,…`: each minting client may only
    /// name rooms starting with its prefix; when set, unlisted clients may mint nothing.
    pub client_room_prefixes: Option<Vec<(String, String)>>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            issuer: None,
            user_scope: Some("livekit/join".into()),
            mint_scope: "livekit/token".into(),
            admin_scope: Some("livekit/admin".into()),
            admin_claim: None,
            name_claims: ["name", "email", "preferred_username", "cognito:username", "username"]
                .map(String::from)
                .to_vec(),
            identity_prefix: "user:".into(),
            owner_prefix: "owner:".into(),
            rooms_claim: None,
            client_room_prefixes: None,
        }
    }
}

fn invalid(variable: &str, reason: impl Into<String>) -> Error {
    Error::config(variable, reason)
}

/// An optional setting whose blank value means "none" (not "the default").
fn optional(env: &EnvSettings, name: &str, default: Option<String>) -> Option<String> {
    match env.non_empty(name) {
        Some(value) => Some(value),
        None if env.is_set(name) => None,
        None => default,
    }
}

fn pairs(env: &EnvSettings, name: &str) -> Result<Vec<(String, String)>, Error> {
    env.list(name)
        .into_iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
                Ok((key.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(invalid(name, format!("entries must look like `key=value`, got `{entry}`"))),
        })
        .collect()
}

impl AuthSettings {
    pub fn from_env(env: &EnvSettings) -> Result<Self, Error> {
        let defaults = Self::default();
        let enabled = match env.non_empty("AUTH_MODE").map(|m| m.to_ascii_lowercase()).as_deref() {
            None | Some("off") | Some("none") => false,
            Some("jwt") => true,
            Some(other) => return Err(invalid("AUTH_MODE", format!("must be `off` or `jwt`, got `{other}`"))),
        };
        let admin_claim = match pairs(env, "AUTH_ADMIN_CLAIM")?.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => return Err(invalid("AUTH_ADMIN_CLAIM", "takes one `claim=value`")),
        };
        let client_room_prefixes =
            env.is_set("AUTH_CLIENT_ROOM_PREFIXES").then(|| pairs(env, "AUTH_CLIENT_ROOM_PREFIXES"));
        let name_claims = env.list("AUTH_NAME_CLAIMS");
        Ok(Self {
            enabled,
            issuer: env.non_empty("AUTH_ISSUER").map(|i| i.trim_end_matches('/').to_string()),
            user_scope: optional(env, "AUTH_USER_SCOPE", defaults.user_scope),
            mint_scope: env.non_empty("AUTH_MINT_SCOPE").unwrap_or(defaults.mint_scope),
            admin_scope: optional(env, "AUTH_ADMIN_SCOPE", defaults.admin_scope),
            admin_claim,
            name_claims: if name_claims.is_empty() { defaults.name_claims } else { name_claims },
            identity_prefix: env.non_empty("AUTH_IDENTITY_PREFIX").unwrap_or(defaults.identity_prefix),
            owner_prefix: env.non_empty("AUTH_OWNER_PREFIX").unwrap_or(defaults.owner_prefix),
            rooms_claim: env.non_empty("AUTH_ROOMS_CLAIM"),
            client_room_prefixes: client_room_prefixes.transpose()?.filter(|p| !p.is_empty()),
        })
    }

    /// The scopes API Gateway should require on the `/token` route (any one of them):
    /// none when users may come without a scope, since one route serves both callers.
    pub fn route_scopes(&self) -> Vec<String> {
        self.route_scopes_with(&[])
    }

    /// The same, for a route that applications holding `more` may call too (room links).
    pub fn route_scopes_with(&self, more: &[&str]) -> Vec<String> {
        match &self.user_scope {
            Some(user_scope) => std::iter::once(user_scope.as_str())
                .chain(std::iter::once(self.mint_scope.as_str()))
                .chain(more.iter().copied())
                .map(str::to_string)
                .collect(),
            None => Vec::new(),
        }
    }
}

/// The verified claims of a request, as API Gateway's JWT authorizer passes them: every
/// value a string (arrays read `[a b]`), scopes as a list when API Gateway filled it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifiedClaims {
    pub claims: HashMap<String, String>,
    pub scopes: Vec<String>,
}

impl VerifiedClaims {
    /// `requestContext.authorizer.jwt`, if the request has one.
    pub fn of(request: &Request<Body>) -> Option<Self> {
        let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else { return None };
        let jwt = context.authorizer.as_ref()?.jwt.as_ref()?;
        Some(Self::new(jwt.claims.clone(), jwt.scopes.clone().unwrap_or_default()))
    }

    /// The claims a guarded route must have: none is a 401 (the authorizer is missing).
    fn required(request: &Request<Body>) -> Result<Self, AuthError> {
        Self::of(request).ok_or(AuthError::Unauthenticated(
            "a bearer token is required (is the JWT authorizer attached to this route?)",
        ))
    }

    pub fn new(claims: HashMap<String, String>, mut scopes: Vec<String>) -> Self {
        if scopes.is_empty() {
            // API Gateway fills `scopes` only for routes that require some; the token's
            // own `scope` (space-separated, OAuth 2) or `scp` (a list) claim says the same.
            scopes = ["scope", "scp"].iter().filter_map(|c| claims.get(*c)).flat_map(|v| claim_list(v)).collect();
        }
        Self { claims, scopes }
    }

    fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A claim that holds a list, in any of the shapes it reaches us in: API Gateway's
/// `[a b]`, a JSON array, or a space- or comma-separated string.
pub fn claim_list(value: &str) -> Vec<String> {
    let value = value.trim();
    if let Ok(items) = serde_json::from_str::<Vec<String>>(value) {
        return items;
    }
    let inner = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
    inner.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Who is asking, once the claims have been read.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    /// Authentication is off: whoever knows the URL.
    Anonymous,
    /// A signed-in user: gets a token for itself only.
    User { subject: String, name: String, email: Option<String>, admin: bool, rooms: Option<Vec<String>> },
    /// An application holding the mint scope: names the participant it mints for.
    Client { client_id: String, admin: bool, rooms: Option<Vec<String>> },
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::User { admin: true, .. } | Caller::Client { admin: true, .. })
    }

    /// Resolves the caller of `request` under `settings`. With authentication on, no
    /// verified claims is a 401 and a verified caller without a usable scope a 403.
    pub fn of(request: &Request<Body>, settings: &AuthSettings) -> Result<Self, AuthError> {
        if !settings.enabled {
            return Ok(Caller::Anonymous);
        }
        Self::from_claims(&VerifiedClaims::required(request)?, settings)
    }

    pub fn from_claims(verified: &VerifiedClaims, settings: &AuthSettings) -> Result<Self, AuthError> {
        Self::from_claims_with(verified, settings, &[settings.mint_scope.as_str()])
    }

    /// Who may create and revoke room links: an application holding one of
    /// `application_scopes` (the links scope, or the mint scope), or a signed-in user.
    pub fn link_creator(
        request: &Request<Body>,
        settings: &AuthSettings,
        application_scopes: &[&str],
    ) -> Result<Self, AuthError> {
        Self::from_claims_with(&VerifiedClaims::required(request)?, settings, application_scopes)
    }

    /// An application when the claims hold one of `application_scopes`, else a user.
    fn from_claims_with(
        verified: &VerifiedClaims,
        settings: &AuthSettings,
        application_scopes: &[&str],
    ) -> Result<Self, AuthError> {
        if let Some(issuer) = &settings.issuer {
            if verified.claim("iss").map(|i| i.trim_end_matches('/')) != Some(issuer.as_str()) {
                return Err(AuthError::Unauthenticated("the token is from another issuer"));
            }
        }
        let admin = settings.admin_scope.as_deref().is_some_and(|s| verified.has_scope(s))
            || settings.admin_claim.as_ref().is_some_and(|(claim, value)| {
                verified.claim(claim).is_some_and(|held| claim_list(held).iter().any(|v| v == value))
            });
        let rooms =
            settings.rooms_claim.as_ref().map(|claim| verified.claim(claim).map(claim_list).unwrap_or_default());
        if application_scopes.iter().any(|scope| verified.has_scope(scope)) {
            let client_id = ["client_id", "azp", "cid", "sub"]
                .iter()
                .find_map(|c| verified.claim(c))
                .ok_or(AuthError::Unauthenticated("the token names no client"))?;
            return Ok(Caller::Client { client_id: client_id.to_string(), admin, rooms });
        }
        if let Some(scope) = &settings.user_scope {
            if !verified.has_scope(scope) {
                let scopes: Vec<String> = std::iter::once(scope.as_str())
                    .chain(application_scopes.iter().copied())
                    .map(|s| format!("`{s}`"))
                    .collect();
                return Err(AuthError::InsufficientScope(format!(
                    "the token needs one of the scopes {}",
                    scopes.join(", ")
                )));
            }
        }
        let subject = verified.claim("sub").ok_or(AuthError::Unauthenticated("the token has no subject"))?;
        let name = settings.name_claims.iter().find_map(|c| verified.claim(c)).unwrap_or_default().to_string();
        let email = verified.claim("email").map(str::to_string);
        Ok(Caller::User { subject: subject.to_string(), name, email, admin, rooms })
    }

    /// Whether this caller may enter `room` (403 otherwise): the rooms its claim lists, and
    /// an application's room prefix. Anyone may, with authentication off.
    pub fn check_room(&self, room: &str, settings: &AuthSettings) -> Result<(), AuthError> {
        let rooms = match self {
            Caller::Anonymous => return Ok(()),
            Caller::User { rooms, .. } | Caller::Client { rooms, .. } => rooms,
        };
        if let Some(rooms) = rooms {
            let listed = rooms.iter().any(|allowed| match allowed.strip_suffix('*') {
                Some(prefix) => room.starts_with(prefix),
                None => allowed == room,
            });
            if !listed {
                return Err(AuthError::RoomNotAllowed("the token does not list this room".into()));
            }
        }
        if let (Caller::Client { client_id, .. }, Some(prefixes)) = (self, &settings.client_room_prefixes) {
            match prefixes.iter().find(|(client, _)| client == client_id) {
                Some((_, prefix)) if room.starts_with(prefix.as_str()) => {}
                Some((_, prefix)) => {
                    return Err(AuthError::RoomNotAllowed(format!("this client's rooms start with `{prefix}`")))
                }
                None => return Err(AuthError::RoomNotAllowed("this client may not mint tokens for any room".into())),
            }
        }
        Ok(())
    }

    /// A signed-in user's own participant: the identity `<AUTH_IDENTITY_PREFIX><sub>`
    /// (`user:<sub>`) and the display name from the name claims (left out when unusable);
    /// `None` for callers who name the participant.
    pub fn own_participant(
        &self,
        settings: &AuthSettings,
        limit: NameLimit,
    ) -> Result<Option<(Identity, String)>, InvalidName> {
        let Caller::User { subject, name, .. } = self else { return Ok(None) };
        let identity = Identity::parse(format!("{}{subject}", settings.identity_prefix), limit)
            .map_err(|problem| InvalidName { field: "token subject", problem })?;
        let name = if Identity::parse(name.as_str(), limit).is_ok() { name.clone() } else { String::new() };
        Ok(Some((identity, name)))
    }

    /// Adds the attributes that come from the verified claims: a user's subject and email,
    /// an application's owner (a caller's own `auth.*` keys are refused before this).
    pub fn attribute(&self, attributes: &mut HashMap<String, String>, settings: &AuthSettings) {
        match self {
            Caller::Anonymous => {}
            Caller::User { subject, email, .. } => {
                attributes.insert(attribute::USER_ID.into(), subject.clone());
                if let Some(email) = email {
                    attributes.insert(attribute::EMAIL.into(), email.clone());
                }
            }
            Caller::Client { .. } => {
                attributes.extend(self.owner(settings).map(|owner| (attribute::OWNER.to_string(), owner)));
            }
        }
    }

    /// `auth.owner` of what an application mints or invites to: `owner:<client id>`.
    pub fn owner(&self, settings: &AuthSettings) -> Option<String> {
        match self {
            Caller::Client { client_id, .. } => Some(format!("{}{client_id}", settings.owner_prefix)),
            _ => None,
        }
    }

    /// The kind of caller, for metrics: a fixed set, never who it was.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::User { .. } => "user",
            Caller::Client { .. } => "client",
        }
    }

    /// How the request log names the caller: never a token, only who it was issued to.
    pub fn log_name(&self) -> Option<String> {
        match self {
            Caller::Anonymous => None,
            Caller::User { subject, .. } => Some(format!("user:{subject}")),
            Caller::Client { client_id, .. } => Some(format!("client:{client_id}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::ErrorResponse;

    fn response(error: &AuthError) -> ErrorResponse {
        error.clone().into()
    }

    fn verified(claims: &[(&str, &str)], scopes: &[&str]) -> VerifiedClaims {
        VerifiedClaims::new(
            claims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            scopes.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn on() -> AuthSettings {
        AuthSettings { enabled: true, ..Default::default() }
    }

    #[test]
    fn settings_default_off_and_parse() {
        assert!(!AuthSettings::from_env(&EnvSettings::default()).unwrap().enabled);
        let env = EnvSettings::from_pairs([
            ("AUTH_MODE", "JWT"),
            ("AUTH_ISSUER", "https://issuer.example.com/"),
            ("AUTH_USER_SCOPE", ""),
            ("AUTH_ADMIN_CLAIM", "cognito:groups=moderators"),
            ("AUTH_CLIENT_ROOM_PREFIXES", "app=app-, other = o-"),
            ("AUTH_NAME_CLAIMS", "nickname"),
        ]);
        let s = AuthSettings::from_env(&env).unwrap();
        assert!(s.enabled);
        assert_eq!(s.issuer.as_deref(), Some("https://issuer.example.com"));
        assert_eq!(s.user_scope, None, "blank means no user scope, not the default");
        assert!(s.route_scopes().is_empty());
        assert_eq!(s.admin_claim, Some(("cognito:groups".into(), "moderators".into())));
        assert_eq!(s.client_room_prefixes.unwrap()[1], ("other".into(), "o-".into()));
        assert_eq!(s.name_claims, vec!["nickname"]);
        assert_eq!(AuthSettings::default().route_scopes(), vec!["livekit/join", "livekit/token"]);
        for (name, value) in
            [("AUTH_MODE", "oauth"), ("AUTH_ADMIN_CLAIM", "groups"), ("AUTH_CLIENT_ROOM_PREFIXES", "=x")]
        {
            let err = AuthSettings::from_env(&EnvSettings::from_pairs([(name, value)])).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn list_claims_in_every_shape() {
        for shape in ["[a b]", r#"["a","b"]"#, "a b", "a,b", " [a  b] "] {
            assert_eq!(claim_list(shape), vec!["a", "b"], "{shape}");
        }
        assert!(claim_list("[]").is_empty());
    }

    #[test]
    fn users_clients_and_scopes() {
        let s = on();
        let user = Caller::from_claims(
            &verified(&[("sub", "u-1"), ("name", "Jane"), ("email", "j@x.io")], &["livekit/join"]),
            &s,
        )
        .unwrap();
        assert_eq!(
            user,
            Caller::User {
                subject: "u-1".into(),
                name: "Jane".into(),
                email: Some("j@x.io".into()),
                admin: false,
                rooms: None
            }
        );
        let scope_claim = Caller::from_claims(&verified(&[("sub", "u"), ("scope", "openid livekit/join")], &[]), &s);
        assert!(matches!(scope_claim, Ok(Caller::User { .. })), "the `scope` claim counts when `scopes` is empty");
        let client = Caller::from_claims(&verified(&[("sub", "app"), ("client_id", "app")], &["livekit/token"]), &s);
        assert_eq!(client.unwrap(), Caller::Client { client_id: "app".into(), admin: false, rooms: None });
        let none = Caller::from_claims(&verified(&[("sub", "u")], &["openid"]), &s).unwrap_err();
        assert_eq!(response(&none).code, "insufficient_scope");
        assert_eq!(response(&none).status, 403);
        let id_tokens = AuthSettings { user_scope: None, ..on() };
        assert!(Caller::from_claims(&verified(&[("sub", "u")], &[]), &id_tokens).is_ok());
        let no_sub = Caller::from_claims(&verified(&[], &["livekit/join"]), &s).unwrap_err();
        assert_eq!(response(&no_sub).status, 401);
        let pinned = AuthSettings { issuer: Some("https://a".into()), ..on() };
        let other = Caller::from_claims(&verified(&[("sub", "u"), ("iss", "https://b")], &["livekit/join"]), &pinned);
        assert_eq!(response(&other.unwrap_err()).code, "unauthenticated");
        assert!(
            Caller::from_claims(&verified(&[("sub", "u"), ("iss", "https://a/")], &["livekit/join"]), &pinned).is_ok()
        );
    }

    #[test]
    fn admins_by_scope_or_claim() {
        let s = AuthSettings { admin_claim: Some(("cognito:groups".into(), "mods".into())), ..on() };
        let by_scope = Caller::from_claims(&verified(&[("sub", "u")], &["livekit/join", "livekit/admin"]), &s);
        assert!(by_scope.unwrap().is_admin());
        let by_claim =
            Caller::from_claims(&verified(&[("sub", "u"), ("cognito:groups", "[staff mods]")], &["livekit/join"]), &s);
        assert!(by_claim.unwrap().is_admin());
        let neither =
            Caller::from_claims(&verified(&[("sub", "u"), ("cognito:groups", "[modsx]")], &["livekit/join"]), &s);
        assert!(!neither.unwrap().is_admin());
    }

    #[test]
    fn a_users_own_participant_and_the_attributes_claims_give() {
        let s = on();
        let user = Caller::User { subject: "u-1".into(), name: String::new(), email: None, admin: false, rooms: None };
        let mut attributes = HashMap::from([("hand".to_string(), "up".to_string())]);
        user.attribute(&mut attributes, &s);
        assert_eq!(attributes[attribute::USER_ID], "u-1");
        assert_eq!(attributes["hand"], "up");
        let app = Caller::Client { client_id: "app".into(), admin: false, rooms: None };
        let mut attributes = HashMap::new();
        app.attribute(&mut attributes, &s);
        assert_eq!(attributes[attribute::OWNER], "owner:app");
        assert_eq!(
            user.own_participant(&s, NameLimit(128)).unwrap(),
            Some((Identity::parse("user:u-1", NameLimit(128)).unwrap(), String::new()))
        );
        assert_eq!(ErrorResponse::from(user.own_participant(&s, NameLimit(5)).unwrap_err()).status, 400);
        assert_eq!(app.own_participant(&s, NameLimit(128)).unwrap(), None);
        let named =
            Caller::User { subject: "u-1".into(), name: "Jane\u{7}".into(), email: None, admin: false, rooms: None };
        assert_eq!(named.own_participant(&s, NameLimit(128)).unwrap().unwrap().1, "", "an unusable name is left out");
    }

    #[test]
    fn room_policies() {
        let s = AuthSettings {
            rooms_claim: Some("rooms".into()),
            client_room_prefixes: Some(vec![("app".into(), "app-".into())]),
            ..on()
        };
        let user = Caller::from_claims(&verified(&[("sub", "u"), ("rooms", "[lobby team-*]")], &["livekit/join"]), &s)
            .unwrap();
        assert!(user.check_room("lobby", &s).is_ok() && user.check_room("team-a", &s).is_ok());
        assert_eq!(response(&user.check_room("lobby2", &s).unwrap_err()).code, "room_not_allowed");
        let unlisted = Caller::from_claims(&verified(&[("sub", "u")], &["livekit/join"]), &s).unwrap();
        assert!(unlisted.check_room("lobby", &s).is_err(), "no rooms claim, no room");
        let app = Caller::Client { client_id: "app".into(), admin: false, rooms: None };
        let no_claim = AuthSettings { rooms_claim: None, ..s.clone() };
        assert!(app.check_room("app-1", &no_claim).is_ok());
        assert!(app.check_room("other", &no_claim).is_err());
        let stranger = Caller::Client { client_id: "stranger".into(), admin: false, rooms: None };
        assert!(stranger.check_room("app-1", &no_claim).is_err());
        assert!(Caller::Anonymous.check_room("anything", &s).is_ok());
    }
}
