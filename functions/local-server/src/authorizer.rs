//! API Gateway's JWT authorizer, for the local server: the same checks, in the same
//! order, and the verified claims handed to the token generator in the same shape
//! (`requestContext.authorizer.jwt`), so the function runs one code path either way.
//!
//! As API Gateway does: the token may come with or without `Bearer `; only RSA
//! signatures (RS256/384/512) with a `kid` found in the issuer's JWKS; `iss` must equal
//! the issuer; `aud` (or `client_id` when there is no `aud`) must be a configured
//! audience; `exp` must be in the future, `nbf` and `iat` in the past; and when the
//! route has scopes, the `scope`/`scp` claim must hold one of them. No clock leeway.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{decode_header, Algorithm, DecodingKey, DecodingKeyKind};
use lambda_http::aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::request::RequestContext;
use livekit_lambda_shared::web::{bearer_token, ErrorResponse};
use livekit_lambda_shared::{EnvSettings, Error};
use ring::signature::{self, RsaPublicKeyComponents};
use serde_json::{json, Map, Value};
use token_generator::AuthSettings;
use tokio::sync::Mutex;

/// A key the token names but the JWKS lacks triggers a re-fetch (the issuer rotated),
/// at most this often, so made-up key ids cannot turn into a stream of fetches.
const REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// API Gateway caches the JWKS for up to two hours.
const KEYS_MAX_AGE: Duration = Duration::from_secs(2 * 3600);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct JwtAuthorizer {
    issuer: String,
    audiences: Vec<String>,
    /// `AUTH_JWKS_URL`, or `jwks_uri` from the issuer's discovery document.
    jwks_url: Option<String>,
    client: reqwest::Client,
    keys: Mutex<KeySet>,
}

/// The issuer's signing keys, as jsonwebtoken reads a JWKS: the RSA ones meant for
/// signatures, by key id.
#[derive(Debug, Default)]
struct KeySet {
    fetched: Option<Instant>,
    jwks_url: Option<String>,
    keys: Vec<Jwk>,
}

impl KeySet {
    /// The RSA signing key `kid`, as jsonwebtoken's decoding key.
    fn rsa_key(&self, kid: &str) -> Option<DecodingKey> {
        let jwk = self.keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid))?;
        let signs = jwk.common.public_key_use.as_ref().is_none_or(|usage| *usage == PublicKeyUse::Signature);
        (signs && matches!(jwk.algorithm, AlgorithmParameters::RSA(_))).then(|| DecodingKey::from_jwk(jwk).ok())?
    }
}

fn unauthorized(reason: impl Into<String>) -> ErrorResponse {
    ErrorResponse::new(StatusCode::UNAUTHORIZED, "unauthenticated", reason)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl JwtAuthorizer {
    /// `None` when authentication is off. With it on, `AUTH_ISSUER` and `AUTH_AUDIENCE`
    /// are required (the template's authorizer needs the same two).
    pub fn from_env(env: &EnvSettings, auth: &AuthSettings) -> Result<Option<Self>, Error> {
        if !auth.enabled {
            return Ok(None);
        }
        let missing = |variable: &str| {
            Error::config(variable, "is required when AUTH_MODE=jwt (the local server verifies bearer tokens itself)")
        };
        let issuer = env.non_empty("AUTH_ISSUER").ok_or_else(|| missing("AUTH_ISSUER"))?;
        let audiences = env.list("AUTH_AUDIENCE");
        if audiences.is_empty() {
            return Err(missing("AUTH_AUDIENCE"));
        }
        let tls = tls_config().map_err(|e| Error::config("AUTH_ISSUER", e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| Error::config("AUTH_ISSUER", e.to_string()))?;
        Ok(Some(Self {
            issuer,
            audiences,
            jwks_url: env.non_empty("AUTH_JWKS_URL"),
            client,
            keys: Mutex::new(KeySet::default()),
        }))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verifies the request's bearer token against a route that requires one of
    /// `route_scopes` (none: any verified token), and returns the request context API
    /// Gateway would pass to the function, or the refusal it would answer with.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        route_scopes: &[String],
    ) -> Result<RequestContext, ErrorResponse> {
        let token = bearer_token(headers).ok_or_else(|| unauthorized("a bearer token is required"))?;
        let claims = self.verify(token).await?;
        let held = scopes_of(&claims);
        if !route_scopes.is_empty() && !held.iter().any(|s| route_scopes.contains(s)) {
            return Err(ErrorResponse::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the token needs one of the scopes {}", route_scopes.join(", ")),
            ));
        }
        let strings: Map<String, Value> = claims.iter().map(|(k, v)| (k.clone(), json!(gateway_string(v)))).collect();
        // API Gateway lists the scopes when the route requires some.
        let scopes = if route_scopes.is_empty() { Value::Null } else { json!(held) };
        let authorizer: ApiGatewayRequestAuthorizer =
            serde_json::from_value(json!({"jwt": {"claims": strings, "scopes": scopes}}))
                .map_err(|_| unauthorized("the token's claims could not be read"))?;
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        Ok(RequestContext::ApiGatewayV2(context))
    }

    async fn verify(&self, token: &str) -> Result<Map<String, Value>, ErrorResponse> {
        let not_a_jwt = || unauthorized("the token is not a JWT");
        let header = decode_header(token).map_err(|_| not_a_jwt())?;
        let algorithm: &signature::RsaParameters = match header.alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return Err(unauthorized("the token's algorithm is not supported (RS256, RS384, RS512)")),
        };
        let kid = header.kid.ok_or_else(|| unauthorized("the token has no key id (kid)"))?;
        let key = self.key(&kid).await?;
        let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else { return Err(not_a_jwt()) };
        // The signature with ring directly (the process's JWT provider signs HMAC only):
        // over `header.payload`, as RFC 7515 defines it.
        let (signed, signature) = token.rsplit_once('.').ok_or_else(not_a_jwt)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| not_a_jwt())?;
        RsaPublicKeyComponents { n, e }
            .verify(algorithm, signed.as_bytes(), &signature)
            .map_err(|_| unauthorized("the token's signature is invalid"))?;

        let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
            .map_err(|_| unauthorized("the token's claims are not JSON"))?
            .claims;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(unauthorized("the token has an invalid issuer"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(auds)) => {
                auds.iter().any(|a| a.as_str().is_some_and(|a| self.audiences.iter().any(|x| x == a)))
            }
            Some(_) => false,
            None => {
                claims.get("client_id").and_then(Value::as_str).is_some_and(|c| self.audiences.iter().any(|x| x == c))
            }
        };
        if !audience_ok {
            return Err(unauthorized("the token does not have a valid audience"));
        }
        let time = |name: &str| claims.get(name).map(|v| v.as_f64().map(|t| t as i64));
        let now = now();
        match time("exp") {
            Some(Some(exp)) if exp > now => {}
            Some(Some(_)) => return Err(unauthorized("the token has expired")),
            _ => return Err(unauthorized("the token has no valid expiry (exp)")),
        }
        for claim in ["nbf", "iat"] {
            match time(claim) {
                None => {}
                Some(Some(t)) if t <= now => {}
                _ => return Err(unauthorized(format!("the token's `{claim}` is in the future"))),
            }
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, ErrorResponse> {
        let mut keys = self.keys.lock().await;
        let stale = keys.fetched.is_none_or(|at| at.elapsed() > KEYS_MAX_AGE);
        let may_refetch = keys.fetched.is_none_or(|at| at.elapsed() > REFETCH_INTERVAL);
        if stale || (keys.rsa_key(kid).is_none() && may_refetch) {
            self.fetch(&mut keys).await?;
        }
        keys.rsa_key(kid).ok_or_else(|| unauthorized("the token's signing key is not in the issuer's JWKS"))
    }

    async fn fetch(&self, keys: &mut KeySet) -> Result<(), ErrorResponse> {
        let unavailable = |what: &str| {
            tracing::warn!(issuer = %self.issuer, "{what}");
            ErrorResponse::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "issuer_unavailable",
                "the token issuer's keys could not be fetched",
            )
        };
        let jwks_url = match (&self.jwks_url, &keys.jwks_url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let discovery = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
                let document: Value =
                    self.get_json(&discovery).await.map_err(|_| unavailable("OIDC discovery failed"))?;
                let url = document["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| unavailable("the discovery document has no jwks_uri"))?
                    .to_string();
                keys.jwks_url = Some(url.clone());
                url
            }
        };
        let jwks = self.get_json(&jwks_url).await.map_err(|_| unavailable("JWKS fetch failed"))?;
        let listed = jwks["keys"].as_array().ok_or_else(|| unavailable("the JWKS is malformed"))?;
        // Each key as jsonwebtoken reads a JWK; one it cannot read (a key type it does not
        // know) is skipped, as API Gateway skips what it cannot use.
        keys.keys = listed.iter().filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok()).collect();
        keys.fetched = Some(Instant::now());
        Ok(())
    }

    async fn get_json(&self, url: &str) -> Result<Value, reqwest::Error> {
        self.client.get(url).send().await?.error_for_status()?.json().await
    }
}

/// A claim as API Gateway passes it to the function: strings as they are, numbers and
/// booleans as text, arrays as `[a b]`, objects as JSON.
pub fn gateway_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(gateway_string).collect::<Vec<_>>().join(" ")),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The scopes a token holds: `scope` (space-separated, OAuth 2) or `scp` (a list or a string).
fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for claim in ["scope", "scp"] {
        match claims.get(claim) {
            Some(Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(items)) => scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
    }
    scopes
}

/// TLS for HTTPS issuers, on ring like the rest of the process.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_read_like_api_gateway_passes_them() {
        assert_eq!(gateway_string(&json!("a")), "a");
        assert_eq!(gateway_string(&json!(["mods", "staff"])), "[mods staff]");
        assert_eq!(gateway_string(&json!(1700000000)), "1700000000");
        assert_eq!(gateway_string(&json!(true)), "true");
        assert_eq!(gateway_string(&json!({"k": "v"})), r#"{"k":"v"}"#);
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let claims = json!({"scope": "openid livekit/join", "scp": ["x"]});
        assert_eq!(scopes_of(claims.as_object().unwrap()), vec!["openid", "livekit/join", "x"]);
    }
}
