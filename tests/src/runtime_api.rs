//! A loopback Lambda Runtime API (the `2018-06-01` contract a `bootstrap` polls), so the
//! built artifact runs exactly as Lambda runs it: no AWS, no Docker.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    /// `/invocation/{id}/error`: the handler failed.
    Error(Value),
}

#[derive(Default)]
struct State {
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    init_errors: Vec<Value>,
}

/// The runtime API server. `invoke` queues an event and waits for the function's answer.
pub struct RuntimeApi {
    pub port: u16,
    events: mpsc::Sender<(String, Value)>,
    state: Arc<Mutex<State>>,
    next_id: AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (events, receiver) = mpsc::channel::<(String, Value)>(64);
        let receiver = Arc::new(Mutex::new(receiver));
        let state = Arc::new(Mutex::new(State::default()));
        let server_state = state.clone();
        let port = crate::serve_loopback(move |request| route(request, receiver.clone(), server_state.clone())).await;
        Self { port, events, state, next_id: AtomicU64::new(1) }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Delivers one event and waits (up to `timeout`) for the function's answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Outcome {
        self.invoke_with_id(event, timeout).await.1
    }

    /// Like [`RuntimeApi::invoke`], with the request id the function was handed (the
    /// `function_request_id` its logs and metrics must carry).
    pub async fn invoke_with_id(&self, event: Value, timeout: Duration) -> (String, Outcome) {
        let id = format!("req-{:08}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (sender, answer) = oneshot::channel();
        self.state.lock().await.waiting.insert(id.clone(), sender);
        self.events.send((id.clone(), event)).await.expect("runtime API is running");
        let outcome = tokio::time::timeout(timeout, answer)
            .await
            .unwrap_or_else(|_| panic!("no answer to {id} within {timeout:?}"))
            .expect("answer channel");
        (id, outcome)
    }

    /// Like [`RuntimeApi::invoke`], but `None` instead of a panic when no answer comes in
    /// time (a burst records it as a failure and goes on).
    pub async fn try_invoke(&self, event: Value, timeout: Duration) -> Option<Outcome> {
        let id = format!("req-{:08}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (sender, answer) = oneshot::channel();
        self.state.lock().await.waiting.insert(id.clone(), sender);
        self.events.send((id.clone(), event)).await.ok()?;
        tokio::time::timeout(timeout, answer).await.ok()?.ok()
    }

    /// Errors the function reported through `/runtime/init/error`.
    pub async fn init_errors(&self) -> Vec<Value> {
        self.state.lock().await.init_errors.clone()
    }
}

/// The X-Ray trace id this runtime API hands over with invocation `request_id`.
pub fn trace_id(request_id: &str) -> String {
    format!("Root=1-00000000-{:0>24};Sampled=0", request_id.trim_start_matches("req-"))
}

fn reply(status: StatusCode, body: Bytes, headers: &[(&str, String)]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (hyper::header::HeaderName::from_bytes(name.as_bytes()), value.parse()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn route(
    request: Request<Incoming>,
    receiver: Arc<Mutex<mpsc::Receiver<(String, Value)>>>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let accepted = || reply(StatusCode::ACCEPTED, Bytes::from_static(b"{\"status\":\"OK\"}"), &[]);
    match segments.as_slice() {
        ["2018-06-01", "runtime", "invocation", "next"] => {
            let Some((id, event)) = receiver.lock().await.recv().await else {
                return Ok(reply(StatusCode::GONE, Bytes::new(), &[]));
            };
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
            let headers = [
                ("lambda-runtime-aws-request-id", id.clone()),
                ("lambda-runtime-deadline-ms", deadline.as_millis().to_string()),
                ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:local".into()),
                // One trace per invocation, as X-Ray gives: logs and metrics must carry their own.
                ("lambda-runtime-trace-id", trace_id(&id)),
                ("content-type", "application/json".into()),
            ];
            Ok(reply(StatusCode::OK, Bytes::from(event.to_string()), &headers))
        }
        ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")] => {
            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let value: Value =
                serde_json::from_slice(&body).unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
            let outcome = if *kind == "response" { Outcome::Response(value) } else { Outcome::Error(value) };
            if let Some(waiter) = state.lock().await.waiting.remove(*id) {
                let _ = waiter.send(outcome);
            }
            Ok(accepted())
        }
        ["2018-06-01", "runtime", "init", "error"] => {
            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            state.lock().await.init_errors.push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            Ok(accepted())
        }
        _ => Ok(reply(StatusCode::NOT_FOUND, Bytes::new(), &[])),
    }
}
