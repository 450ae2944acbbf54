//! A lambda_http hello-world: the cold-start floor `make bench` subtracts from the token
//! generator's cold start (with SSM's own answer time) to get the function's own overhead.
//! Same runtime set-up as the functions (current-thread tokio, the workspace's lambda_http
//! features, the release profile); nothing else.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"hello":"world"}"#))
            .map_err(Error::from)
    }))
    .await
}
