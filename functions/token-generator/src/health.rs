//! `GET /health`: the function is up. It touches no credentials, so a deployment whose SSM
//! parameters are missing still answers here (its `/token` says why it cannot).

use lambda_http::http::{Response, StatusCode};
use lambda_http::Body;
use livekit_lambda_shared::web::json_response;

pub fn answer() -> Response<Body> {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}
