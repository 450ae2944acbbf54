//! The loopback OpenID Connect issuer (`tests/node/oidc-issuer.mjs`): RSA keys made at
//! start-up, JWKS on loopback, the client-credentials grant, and test-only minting of
//! user tokens (good and broken ones).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::{blocking_http, workspace_root};

pub struct TestIssuer {
    /// `http://127.0.0.1:<port>`: the `iss` of every token it issues.
    pub url: String,
    pub port: u16,
    child: Child,
}

impl TestIssuer {
    /// `clients`: `{"<client id>": {"secret": "…", "scopes": ["…"]}}`.
    pub fn start(clients: Value) -> Self {
        let config = json!({"clients": clients, "exitWithStdin": true});
        let mut child = Command::new("node")
            .arg(workspace_root().join("tests/node/oidc-issuer.mjs"))
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("issuer start line");
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("issuer printed {line:?}: {e}"));
        let url = started["issuer"].as_str().expect("issuer url").to_string();
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("issuer port");
        Self { url, port, child }
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let (status, body) = blocking_http("POST", self.port, path, headers, body);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A token as a sign-in would produce: `claims` over `iss`/`iat`/`exp` (a `null`
    /// claim is removed); `extra` may set `header`, `ttlSeconds` and `key` ("stranger").
    pub fn mint(&self, claims: Value, extra: Value) -> String {
        let mut input = json!({"claims": claims});
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            input.extend(extra.clone());
        }
        let (status, body) =
            self.post("/test/mint", &[("content-type", "application/json")], input.to_string().as_bytes());
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// The OAuth 2 client-credentials grant, with HTTP Basic client authentication.
    pub fn client_credentials(&self, client_id: &str, secret: &str, scope: Option<&str>) -> (u16, Value) {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        let mut form = "grant_type=client_credentials".to_string();
        if let Some(scope) = scope {
            form.push_str(&format!("&scope={}", scope.replace('/', "%2F").replace(' ', "+")));
        }
        self.post(
            "/oauth2/token",
            &[("content-type", "application/x-www-form-urlencoded"), ("authorization", &format!("Basic {basic}"))],
            form.as_bytes(),
        )
    }

    /// A new signing key replaces the old one (as an issuer's key rotation does).
    pub fn rotate(&self) {
        assert_eq!(self.post("/test/rotate", &[], b"").0, 200);
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
