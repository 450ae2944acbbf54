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
use livekit_lambda_shared::web::{apply_security_headers, ErrorResponse};
use livekit_lambda_shared::{CredentialStore, EnvSettings, Runtime};
use subtitle_dispatcher::SubtitleService;
use token_generator::{TokenService, TokenSettings};
use tokio::net::TcpListener;
use webhook_receiver::WebhookService;

pub mod authorizer;
pub use authorizer::JwtAuthorizer;

/// Hard cap on what the local server reads of a body before the handler's own
/// (smaller, configurable) limit applies; API Gateway's own cap is 10 MB.
const MAX_LOCAL_BODY_BYTES: usize = 1024 * 1024;

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
        let credentials = Arc::new(CredentialStore::from_env(env, Runtime::Local).await?);
        let token_settings = TokenSettings::from_env(env)?;
        let authorizer = JwtAuthorizer::from_env(env, &token_settings.auth)?.map(Arc::new);
        let token = TokenService::new(token_settings, credentials.clone());
        let webhook = WebhookService::with_credentials(env, credentials.clone())?;
        let subtitles = SubtitleService::with_credentials(env, credentials)?;
        Ok(Self { token, webhook, subtitles, authorizer })
    }

    pub async fn warm_up(&self) {
        self.token.warm_up().await;
    }

    pub async fn dispatch(&self, request: Request<Body>) -> Response<Body> {
        self.route(request).await.unwrap_or_else(|refusal| refusal)
    }

    async fn route(&self, request: Request<Body>) -> Result<Response<Body>, Response<Body>> {
        let path = request.uri().path();
        if webhook_receiver::ROUTES.iter().any(|(route, _)| *route == path) {
            return Ok(self.webhook.handle(request).await);
        }
        if subtitle_dispatcher::room_of_path(path).is_some() {
            return Ok(self.subtitles.handle(request).await);
        }
        Ok(self.token.handle(self.authorize(request).await?).await)
    }

    /// The template's routes: `ANY /token` behind the JWT authorizer when it is on,
    /// `OPTIONS /token` (CORS preflight) and `/health` open. A refused request never
    /// reaches the function, as with API Gateway.
    async fn authorize(&self, mut request: Request<Body>) -> Result<Request<Body>, Response<Body>> {
        // Only the authorizer may say who the caller is.
        request.extensions_mut().remove::<RequestContext>();
        let Some(authorizer) = &self.authorizer else { return Ok(request) };
        if request.uri().path() != "/token" || request.method() == Method::OPTIONS {
            return Ok(request);
        }
        match authorizer.authorize(request.headers()).await {
            Ok(context) => {
                request.extensions_mut().insert(context);
                Ok(request)
            }
            Err(refusal) => {
                tracing::info!(target: "request", route = "/token", status = refusal.status.as_u16(), error_code = refusal.code, "refused by the JWT authorizer");
                let mut response = refusal.into_response();
                apply_security_headers(response.headers_mut());
                Err(response)
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

/// Serves until the process ends. Each connection gets its own task.
pub async fn serve(listener: TcpListener, routes: LocalRoutes) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        // Small JSON responses: send them without waiting for delayed ACKs.
        let _ = stream.set_nodelay(true);
        let routes = routes.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let routes = routes.clone();
                async move {
                    let response = match into_lambda_request(request).await {
                        Ok(request) => routes.dispatch(request).await,
                        Err(error) => {
                            let mut response = error.into_response();
                            apply_security_headers(response.headers_mut());
                            response
                        }
                    };
                    Ok::<_, Infallible>(into_hyper_response(response))
                }
            });
            if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
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
