//! A plain HTTP server on loopback that mounts the same handlers the Lambda functions
//! run, so `make dev` needs no AWS account and no Docker.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::{Method, Request, Response, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::Body;
use livekit_lambda_shared::routes::{self, Function};
use livekit_lambda_shared::web::{apply_security_headers, ErrorResponse};
use livekit_lambda_shared::{CredentialStore, EnvSettings, Feature, Runtime, Service};
use subtitle_dispatcher::SubtitleService;
use token_generator::TokenService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use webhook_receiver::WebhookService;

pub mod authorizer;
pub use authorizer::JwtAuthorizer;

/// Hard cap on what the local server reads of a body before the handler's own
/// (smaller, configurable) limit applies; API Gateway's own cap is 10 MB.
const MAX_LOCAL_BODY_BYTES: usize = 1024 * 1024;

/// The longest request line the local server reads. hyper refuses longer lines itself
/// (past 64 KiB) with a bare `414` and no body; reading the line first keeps that refusal
/// JSON like every other one. API Gateway's own bound is 10 KiB for the request line and
/// headers together.
const MAX_REQUEST_LINE_BYTES: usize = 16 * 1024;

/// Every function's service, routed by path as API Gateway would, sharing one
/// credential store.
#[derive(Clone, Debug)]
pub struct LocalRoutes {
    pub token: TokenService,
    pub webhook: WebhookService,
    pub subtitles: SubtitleService,
    /// With `AUTH_MODE=jwt`: what API Gateway's JWT authorizer does for `/token`.
    pub authorizer: Option<Arc<JwtAuthorizer>>,
}

impl LocalRoutes {
    pub async fn from_env(env: &EnvSettings) -> Result<Self, livekit_lambda_shared::Error> {
        livekit_lambda_shared::jwt::install();
        let mut credentials = CredentialStore::from_env(env, Runtime::Local).await?;
        if TokenService::reads_room_link_keys(env) {
            credentials = credentials.with_room_link_keys();
        }
        let credentials = Arc::new(credentials);
        let token = TokenService::with_credentials(env, credentials.clone()).await?;
        let authorizer = JwtAuthorizer::from_env(env, token.auth_settings())?.map(Arc::new);
        let webhook = WebhookService::with_credentials(env, credentials.clone()).await?;
        let subtitles = SubtitleService::with_credentials(env, credentials).await?;
        Ok(Self { token, webhook, subtitles, authorizer })
    }

    /// Every switchable feature of the three functions under these settings, in route
    /// table order: the start-up log names each one that is off and what turns it on, so a
    /// route that answers `404` locally is never a mystery.
    pub fn features(&self) -> Vec<Feature> {
        let mut features = self.token.features();
        features.extend(self.webhook.features());
        features.extend(self.subtitles.features());
        features
    }

    pub async fn warm_up(&self) {
        self.token.warm_up().await;
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

/// Reads up to the end of the request line. `Ok(bytes read)` for hyper to read again;
/// `Err(())` when the line is longer than [`MAX_REQUEST_LINE_BYTES`].
async fn read_request_line(stream: &mut TcpStream) -> std::io::Result<Result<Vec<u8>, ()>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    while !head.contains(&b'\n') {
        if head.len() > MAX_REQUEST_LINE_BYTES {
            return Ok(Err(()));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let line_length = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    Ok(if line_length > MAX_REQUEST_LINE_BYTES { Err(()) } else { Ok(head) })
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

/// Serves until the process ends. Each connection gets its own task.
pub async fn serve(listener: TcpListener, routes: LocalRoutes) -> std::io::Result<()> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        // Small JSON responses: send them without waiting for delayed ACKs.
        let _ = stream.set_nodelay(true);
        let routes = routes.clone();
        tokio::spawn(async move {
            let head = match read_request_line(&mut stream).await {
                Ok(Ok(head)) => head,
                Ok(Err(())) => {
                    let too_long = ErrorResponse::new(
                        StatusCode::URI_TOO_LONG,
                        "uri_too_long",
                        format!("the request line is longer than {MAX_REQUEST_LINE_BYTES} bytes"),
                    );
                    let _ = write_refusal(&mut stream, refusal(too_long)).await;
                    return;
                }
                Err(_) => return,
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
            // One request per connection: only the first request line is read above.
            let http = http1::Builder::new().keep_alive(false).serve_connection(TokioIo::new(io), service);
            if let Err(error) = http.await {
                tracing::debug!(error = %error, "connection closed with an error");
            }
        });
    }
}

/// The address to listen on: `127.0.0.1:$PORT` (default 8080; `PORT=0` picks a free port).
pub fn listen_address(env: &EnvSettings) -> Result<SocketAddr, livekit_lambda_shared::Error> {
    let port = env.u64_in("PORT", 8080, 0..=65_535)? as u16;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}
