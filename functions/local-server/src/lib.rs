//! A plain HTTP server on loopback that mounts the same handlers the Lambda functions
//! run, so `make dev` needs no AWS account and no Docker.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::Body;
use livekit_lambda_shared::routes::{self, Function};
use livekit_lambda_shared::state;
use livekit_lambda_shared::web::{apply_security_headers, ErrorResponse};
use livekit_lambda_shared::{CredentialStore, EnvSettings, Feature, Runtime, Service};
use room_controls::{RoomControlsService, RoomControlsSettings};
use subtitle_dispatcher::{SubtitleService, SubtitleSettings};
use token_generator::TokenService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use webhook_receiver::{WebhookService, WebhookSettings};

pub mod authorizer;
pub use authorizer::JwtAuthorizer;

/// Hard cap on what the local server reads of a body before the handler's own
/// (smaller, configurable) limit applies; API Gateway's own cap is 10 MB.
const MAX_LOCAL_BODY_BYTES: usize = 1024 * 1024;

/// The longest request line the local server reads. hyper refuses longer lines itself
/// (past 64 KiB) with a bare `414` and no body; reading the head first keeps that refusal
/// JSON like every other one.
const MAX_REQUEST_LINE_BYTES: usize = 16 * 1024;

/// Every function's service, routed by path as API Gateway would, sharing one
/// credential store.
#[derive(Clone, Debug)]
pub struct LocalRoutes {
    pub token: TokenService,
    pub webhook: WebhookService,
    pub subtitles: SubtitleService,
    pub room_controls: RoomControlsService,
    /// With `AUTH_MODE=jwt`: what API Gateway's JWT authorizer does for `/token`.
    pub authorizer: Option<Arc<JwtAuthorizer>>,
}

impl LocalRoutes {
    pub async fn from_env(env: &EnvSettings) -> Result<Self, livekit_lambda_shared::Error> {
        livekit_lambda_shared::jwt::install();
        // As deployed: the token generator's own store reads what it signs with (never
        // `api-keys`, which only verifies), the room controls' adds the room-link keys, the
        // two other verifiers share one; so an `api-keys` the verifiers refuse leaves
        // `/token` working here as in Lambda.
        let mut signing = CredentialStore::from_env(env, Runtime::Local).await?.signing_only();
        if TokenService::reads_room_link_keys(env) {
            signing = signing.with_room_link_keys();
        }
        let mut controlling = CredentialStore::from_env(env, Runtime::Local).await?;
        if RoomControlsService::reads_room_link_keys(env) {
            controlling = controlling.with_room_link_keys();
        }
        let credentials = Arc::new(CredentialStore::from_env(env, Runtime::Local).await?);
        // One process is the whole fleet: one store, so what the webhook receiver records
        // (a finished room) the room controls read, and what the room controls record (a
        // removal, a role) the token generator honours, as through DynamoDB deployed.
        let store = state::from_env(env).await?;
        let token = TokenService::with_credentials(env, Arc::new(signing)).await?.with_member_store(store.clone());
        let authorizer = JwtAuthorizer::from_env(env, token.auth_settings())?.map(Arc::new);
        let webhook = WebhookService::with_store(WebhookSettings::from_env(env)?, credentials.clone(), store.clone());
        let subtitles = SubtitleService::with_store(SubtitleSettings::from_env(env)?, credentials, store.clone());
        let room_controls =
            RoomControlsService::with_store(RoomControlsSettings::from_env(env)?, Arc::new(controlling), store);
        Ok(Self { token, webhook, subtitles, room_controls, authorizer })
    }

    /// Every switchable feature of the functions under these settings, in route
    /// table order: the start-up log names each one that is off and what turns it on, so a
    /// route that answers `404` locally is never a mystery.
    pub fn features(&self) -> Vec<Feature> {
        let mut features = self.token.features();
        features.extend(self.webhook.features());
        features.extend(self.subtitles.features());
        features.extend(self.room_controls.features());
        features
    }

    pub async fn warm_up(&self) {
        self.token.warm_up().await;
        self.webhook.warm_up().await;
        self.room_controls.warm_up().await;
    }

    pub async fn dispatch(&self, request: Request<Body>) -> Response<Body> {
        // API Gateway's CorsConfiguration (template.yaml, built from the same
        // ALLOWED_ORIGINS) puts CORS headers on its own refusals too, so a browser can read
        // a 401 and ask its user to sign in again. The functions' answers carry theirs
        // already; the authorizer's get the token generator's policy, the one CORS
        // implementation, as API Gateway applies one configuration to the whole API.
        let request_headers = request.headers().clone();
        self.route(request).await.unwrap_or_else(|mut refusal| {
            self.token.cors().decorate(&request_headers, &mut refusal);
            refusal
        })
    }

    /// The function the route table names for the path; an unknown path is the token
    /// generator's to refuse (API Gateway's own 404 differs, see docs/endpoints.md).
    async fn route(&self, request: Request<Body>) -> Result<Response<Body>, Response<Body>> {
        match routes::find(request.uri().path()).map(|m| m.route.function) {
            Some(Function::WebhookReceiver) => Ok(self.webhook.handle(request).await),
            Some(Function::SubtitleDispatcher) => Ok(self.subtitles.handle(request).await),
            Some(Function::RoomControls) => Ok(self.room_controls.handle(self.authorize(request).await?).await),
            Some(Function::TokenGenerator) | None => Ok(self.token.handle(self.authorize(request).await?).await),
        }
    }

    /// The template's routes: the route table's guarded routes (`/token`, the room-link
    /// routes) behind the JWT authorizer when it is on, with the scopes the template
    /// requires; `OPTIONS` (CORS preflight), `/health` and `/guest/token` open. A refused
    /// request never reaches the function, as with API Gateway.
    async fn authorize(&self, mut request: Request<Body>) -> Result<Request<Body>, Response<Body>> {
        // Only the authorizer may say who the caller is.
        request.extensions_mut().remove::<RequestContext>();
        let Some(authorizer) = &self.authorizer else { return Ok(request) };
        let Some(route) = routes::find(request.uri().path()).map(|m| m.route) else { return Ok(request) };
        if !route.guarded || request.method() == Method::OPTIONS {
            return Ok(request);
        }
        let scopes = self.token.route_scopes(route.path);
        match authorizer.authorize(request.headers(), &scopes).await {
            Ok(context) => {
                request.extensions_mut().insert(context);
                Ok(request)
            }
            Err(refusal) => {
                tracing::info!(target: "request", route = route.path, status = refusal.status.as_u16(), error_code = refusal.code, "refused by the JWT authorizer");
                Err(self::refusal(refusal))
            }
        }
    }
}

/// Converts a hyper request into the `http::Request<lambda_http::Body>` the handlers take.
async fn into_lambda_request(request: Request<Incoming>) -> Result<Request<Body>, ErrorResponse> {
    let (parts, body) = request.into_parts();
    let bytes = Limited::new(body, MAX_LOCAL_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| {
            ErrorResponse::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large")
        })?
        .to_bytes();
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    Ok(Request::from_parts(parts, body))
}

fn into_hyper_response(response: Response<Body>) -> Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

/// A refusal the server answers itself, before any function sees the request.
fn refusal(error: ErrorResponse) -> Response<Body> {
    let mut response = error.into_response();
    apply_security_headers(response.headers_mut());
    response
}

/// The largest request head (request line and headers) read: hyper's own refusals of more
/// (431, with an empty body) never happen, this server's JSON one does. API Gateway's own
/// bound is 10 KiB.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers per request, as hyper counts them by default.
const MAX_HEADERS: usize = 100;
/// `LOCAL_IDLE_TIMEOUT_SECONDS` when unset: a connection that sends no whole request head
/// within this is closed (idle connections would otherwise hold a task and a file
/// descriptor forever).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the whole request head. `Ok(bytes read)` for hyper to read again (the body may
/// follow); `Err` with the JSON refusal hyper would otherwise have answered with an empty
/// body and no security headers (or none at all, for a connection that sent nothing).
async fn read_request_head(stream: &mut TcpStream, idle: Duration) -> Result<Vec<u8>, Option<ErrorResponse>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end_of_head = |head: &[u8]| head.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
    let read = async {
        while end_of_head(&head).is_none() {
            if head.len() > MAX_HEAD_BYTES {
                break;
            }
            let read = stream.read(&mut chunk).await.map_err(|_| None)?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..read]);
        }
        Ok::<_, Option<ErrorResponse>>(())
    };
    tokio::time::timeout(idle, read).await.map_err(|_| None)??;
    let line_length = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    if line_length > MAX_REQUEST_LINE_BYTES {
        return Err(Some(ErrorResponse::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request line is longer than {MAX_REQUEST_LINE_BYTES} bytes"),
        )));
    }
    let Some(end) = end_of_head(&head) else {
        if head.is_empty() {
            return Err(None);
        }
        return Err(Some(if head.len() > MAX_HEAD_BYTES {
            too_large_head(format!("the request head is larger than {MAX_HEAD_BYTES} bytes"))
        } else {
            malformed("the request head is incomplete")
        }));
    };
    if end > MAX_HEAD_BYTES {
        return Err(Some(too_large_head(format!("the request head is larger than {MAX_HEAD_BYTES} bytes"))));
    }
    // The parser hyper uses, with hyper's header count: what it would refuse, refused here.
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&head[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Some(too_large_head(format!("the request has more than {MAX_HEADERS} headers"))))
        }
        Ok(httparse::Status::Partial) | Err(_) => return Err(Some(malformed("the request is not valid HTTP/1.1"))),
    }
    let mut lengths = request.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-length"));
    let length_ok = match (lengths.next(), lengths.next()) {
        (None, _) => true,
        (Some(one), None) => !one.value.is_empty() && one.value.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let encodings: Vec<&[u8]> =
        request.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding")).map(|h| h.value).collect();
    if !length_ok || encodings.iter().any(|e| !e.eq_ignore_ascii_case(b"chunked")) || encodings.len() > 1 {
        return Err(Some(malformed("the request's Content-Length or Transfer-Encoding is not valid")));
    }
    Ok(head)
}

fn too_large_head(message: String) -> ErrorResponse {
    ErrorResponse::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", message)
}

fn malformed(message: &str) -> ErrorResponse {
    ErrorResponse::new(StatusCode::BAD_REQUEST, "malformed_request", message)
}

/// Writes a whole response to a connection hyper never saw, then reads what is left of
/// the request head (bounded in size and time) before closing: closing with unread bytes
/// makes the kernel reset the connection, and the client would lose the response.
async fn write_refusal(stream: &mut TcpStream, response: Response<Body>) -> std::io::Result<()> {
    let (parts, body) = into_hyper_response(response).into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut head = format!("HTTP/1.1 {}\r\n", parts.status);
    for (name, value) in &parts.headers {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or_default()));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await?;
    let drain = async {
        let (mut chunk, mut total, mut tail) = ([0u8; 8192], 0usize, Vec::new());
        while total < MAX_LOCAL_BODY_BYTES {
            let read = stream.read(&mut chunk).await?;
            if read == 0 {
                break;
            }
            total += read;
            tail.extend_from_slice(&chunk[..read]);
            if tail.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
            tail.drain(..tail.len().saturating_sub(3));
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
    Ok(())
}

/// Serves until the process ends. Each connection gets its own task; a connection that
/// sends no whole request head within `idle` is closed. An accept error (file descriptors
/// exhausted, say) is logged and the loop goes on after a pause: one bad moment must not
/// end `make dev`.
pub async fn serve(listener: TcpListener, routes: LocalRoutes, idle: Duration) -> std::io::Result<()> {
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(error = %error, "could not accept a connection; trying again shortly");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Small JSON responses: send them without waiting for delayed ACKs.
        let _ = stream.set_nodelay(true);
        let routes = routes.clone();
        tokio::spawn(async move {
            let head = match read_request_head(&mut stream, idle).await {
                Ok(head) => head,
                Err(Some(refused)) => {
                    let _ = write_refusal(&mut stream, refusal(refused)).await;
                    return;
                }
                Err(None) => return,
            };
            // hyper reads the bytes already taken from the socket first, then the rest.
            let (read, write) = stream.into_split();
            let io = tokio::io::join(std::io::Cursor::new(head).chain(read), write);
            let service = service_fn(move |request: Request<Incoming>| {
                let routes = routes.clone();
                async move {
                    let response = match into_lambda_request(request).await {
                        Ok(request) => routes.dispatch(request).await,
                        Err(error) => refusal(error),
                    };
                    Ok::<_, Infallible>(into_hyper_response(response))
                }
            });
            // One request per connection: only the first request head is read above.
            let http = http1::Builder::new().keep_alive(false).serve_connection(TokioIo::new(io), service);
            // The body too comes within the idle timeout's reach: a stalled upload is closed.
            match tokio::time::timeout(idle + MAX_BODY_TIME, http).await {
                Ok(Err(error)) => tracing::debug!(error = %error, "connection closed with an error"),
                Err(_) => tracing::debug!("connection closed: no whole request in time"),
                Ok(Ok(())) => {}
            }
        });
    }
}

/// Time a request has for its body and answer after its head (a LiveKit API call within a
/// handler is bounded by `LIVEKIT_API_TIMEOUT_MS`, an SSM read by its budgets).
const MAX_BODY_TIME: Duration = Duration::from_secs(60);

/// `LOCAL_IDLE_TIMEOUT_SECONDS` (default 10).
pub fn idle_timeout(env: &EnvSettings) -> Result<Duration, livekit_lambda_shared::Error> {
    env.duration_secs("LOCAL_IDLE_TIMEOUT_SECONDS", DEFAULT_IDLE_TIMEOUT.as_secs(), 1..=3600)
}

/// The address to listen on: `127.0.0.1:$PORT` (default 8080; `PORT=0` picks a free port).
pub fn listen_address(env: &EnvSettings) -> Result<SocketAddr, livekit_lambda_shared::Error> {
    let port = env.u64_in("PORT", 8080, 0..=65_535)? as u16;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}
