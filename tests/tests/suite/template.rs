//! What matters in `template.yaml`, checked against the code: every function's runtime,
//! architecture, handler and build method; least-privilege IAM (each role reads only its
//! own SSM parameters and touches only its own items of the state table); the state table
//! itself; every route has a handler and a sample event, and every handler route is
//! deployed; the HTTP API's CORS configuration says what the functions' CORS policy says.

use std::collections::BTreeSet;

use lambda_http::http::Method;
use livekit_lambda_shared::ssm::ParameterNames;
use livekit_lambda_shared::{Function, Service};
use serde_norway::value::TaggedValue;
use serde_norway::Value;
use wire_tests::{event_files, workspace_root};

/// The SSM parameters each function may read, by binary name: the token generator only
/// signs LiveKit tokens, and signs and reads room links with their own keys; the room
/// controls sign an admitted guest's token, check a knocking guest's link and verify
/// participants' tokens; the others that verify LiveKit tokens also read the keys that only
/// verify.
fn own_parameters(binary: &str) -> &'static [&'static str] {
    match binary {
        "token-generator" => &["current-key", "api-key", "api-secret", "url", "api-url", "room-link-keys"],
        "room-controls" => &["current-key", "api-key", "api-secret", "url", "api-url", "api-keys", "room-link-keys"],
        "webhook-receiver" | "subtitle-dispatcher" => {
            &["current-key", "api-key", "api-secret", "url", "api-url", "api-keys"]
        }
        other => panic!("function {other} has no parameter list in tests/tests/suite/template.rs: add one"),
    }
}

/// Every function, by binary name.
const BINARIES: [&str; 4] = ["token-generator", "webhook-receiver", "subtitle-dispatcher", "room-controls"];

/// The logical id of the shared state table (docs/state.md).
const STATE_TABLE: &str = "StateTable";

/// What a function may do in the state table: on its own items (the DynamoDB actions its
/// code calls, sorted, and the partition-key prefix of every item it owns), and which items
/// of another function it may read (`GetItem` only, each its own statement, each a narrow
/// prefix inside the owner's).
struct StateAccess {
    own: (&'static [&'static str], &'static str),
    reads: &'static [&'static str],
}

fn own_state_access(binary: &str) -> Option<StateAccess> {
    match binary {
        // Room links' records: created, used (counted), read and deleted (revoked); and what
        // moderators decided about a room's members, before each token.
        "token-generator" => Some(StateAccess {
            own: (
                &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                livekit_lambda_shared::room_link::STORE_PREFIX,
            ),
            reads: &[livekit_lambda_shared::membership::MEMBER_PREFIX],
        }),
        // Event locks and outcomes, recording notices, dial-in rooms and PIN claims, and
        // that a room finished.
        "webhook-receiver" => Some(StateAccess {
            own: (&["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"], "webhook#"),
            reads: &[],
        }),
        // One atomic counter per identity and minute.
        "subtitle-dispatcher" => Some(StateAccess { own: (&["dynamodb:UpdateItem"], "subtitles#"), reads: &[] }),
        // The waiting room; whether its room finished; whether a knocking link was revoked.
        "room-controls" => Some(StateAccess {
            own: (
                &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                room_controls::STORE_PREFIX,
            ),
            reads: &[
                livekit_lambda_shared::room_facts::FINISHED_PREFIX,
                livekit_lambda_shared::room_link::STORE_PREFIX,
            ],
        }),
        other => panic!("function {other} has no state access in tests/tests/suite/template.rs: add one"),
    }
}

/// What the function's code asks SSM for, by binary name.
fn requested_parameters(binary: &str) -> Vec<String> {
    // With every feature on: what the role must allow is the most the code may ask for.
    let all_on = livekit_lambda_shared::EnvSettings::from_pairs([("ROOM_LINKS", "on"), ("LOBBY", "on")]);
    let (verifies, links) = match binary {
        "token-generator" => (
            token_generator::TokenService::VERIFIES_LIVEKIT_TOKENS,
            token_generator::TokenService::reads_room_link_keys(&all_on),
        ),
        "webhook-receiver" => (
            webhook_receiver::WebhookService::VERIFIES_LIVEKIT_TOKENS,
            webhook_receiver::WebhookService::reads_room_link_keys(&all_on),
        ),
        "subtitle-dispatcher" => (
            subtitle_dispatcher::SubtitleService::VERIFIES_LIVEKIT_TOKENS,
            subtitle_dispatcher::SubtitleService::reads_room_link_keys(&all_on),
        ),
        "room-controls" => (
            room_controls::RoomControlsService::VERIFIES_LIVEKIT_TOKENS,
            room_controls::RoomControlsService::reads_room_link_keys(&all_on),
        ),
        other => panic!("function {other} is not known to tests/tests/suite/template.rs: add it"),
    };
    ParameterNames::under("").requested(verifies, links).iter().map(|n| n.trim_start_matches('/').to_string()).collect()
}

#[test]
fn each_function_asks_ssm_for_exactly_the_parameters_its_role_may_read() {
    for binary in BINARIES {
        assert_eq!(requested_parameters(binary), own_parameters(binary), "{binary}");
    }
}

/// The routes each function's code answers, by binary name, from the one route table.
fn code_routes(binary: &str) -> Vec<(&'static str, &'static [Method])> {
    let function = Function::from_binary(binary)
        .unwrap_or_else(|| panic!("function {binary} is not in shared/src/routes.rs: add it"));
    function.routes().map(|route| (route.path, route.methods)).collect()
}

fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// `!Tag value` → (tag, value)
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => {
            let TaggedValue { tag, value } = t.as_ref();
            Some((tag.to_string(), value))
        }
        _ => None,
    }
}

fn ref_name(value: &Value) -> Option<&str> {
    tagged(value).filter(|(tag, _)| tag == "!Ref").and_then(|(_, v)| v.as_str())
}

fn sub_text(value: &Value) -> Option<&str> {
    tagged(value).filter(|(tag, _)| tag == "!Sub").and_then(|(_, v)| v.as_str())
}

fn getatt(value: &Value) -> Option<String> {
    tagged(value).filter(|(tag, _)| tag == "!GetAtt").and_then(|(_, v)| v.as_str().map(String::from))
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn parameter_arn(prefix_var: &str, name: &str) -> String {
    format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{prefix_var}}}/{name}")
}

fn functions(template: &Value) -> Vec<(String, &Value)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap().to_string(), r))
        .collect()
}

#[test]
fn every_function_is_a_rust_custom_runtime_built_by_cargo_lambda() {
    let template = template();
    let functions = functions(&template);
    assert!(!functions.is_empty());
    let architecture = &template["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "arm64");
    assert!(architecture["AllowedValues"].as_sequence().unwrap().contains(&Value::from("x86_64")));
    for (name, function) in functions {
        let p = &function["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{name}");
        assert_eq!(p["Handler"], "bootstrap", "{name}");
        let arch = as_list(&p["Architectures"]);
        assert_eq!(arch.len(), 1, "{name}");
        assert_eq!(
            tagged(arch[0]).map(|(t, v)| (t, v.as_str().map(String::from))),
            Some(("!Ref".into(), Some("Architecture".into()))),
            "{name}"
        );
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no Binary"));
        let manifest = std::fs::read_to_string(workspace_root().join("functions").join(binary).join("Cargo.toml"))
            .unwrap_or_else(|_| panic!("{name}: functions/{binary}/Cargo.toml does not exist"));
        assert!(manifest.contains(&format!("name = \"{binary}\"")), "{name}: package is not named {binary}");
        assert!(
            p.get("Policies").is_none(),
            "{name}: SAM Policies add AWSLambdaBasicExecutionRole (logs on *); use the function's own role"
        );
        assert!(p["MemorySize"].as_u64().is_some_and(|m| m <= 256), "{name}: small MemorySize");
        assert!(p["Timeout"].as_u64().is_some_and(|t| t <= 30), "{name}: sensible Timeout");
    }
}

#[test]
fn each_role_reads_only_its_own_parameters_and_log_group() {
    let template = template();
    let resources = &template["Resources"];
    for (name, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let own: BTreeSet<String> = own_parameters(binary).iter().map(|p| parameter_arn("SsmPrefix", p)).collect();
        let role_name =
            getatt(&function["Properties"]["Role"]).unwrap_or_else(|| panic!("{name}: Role is !GetAtt <role>.Arn"));
        let role = &resources[role_name.trim_end_matches(".Arn")];
        let log_group =
            tagged(&function["Properties"]["LoggingConfig"]["LogGroup"]).map(|(_, v)| v.as_str().unwrap().to_string());
        let log_group = log_group.unwrap_or_else(|| panic!("{name}: LoggingConfig.LogGroup refs its own log group"));

        let mut saw_ssm = false;
        let mut state_statements = Vec::new();
        let mut xray_statements = 0;
        for policy in role["Properties"]["Policies"].as_sequence().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                if tagged(statement).is_some() {
                    check_xray_statement(&name, statement);
                    xray_statements += 1;
                    continue;
                }
                assert_eq!(statement["Effect"], "Allow");
                let actions: Vec<&str> = as_list(&statement["Action"]).iter().map(|a| a.as_str().unwrap()).collect();
                for action in &actions {
                    assert!(!action.contains('*'), "{name}: wildcard action {action}");
                }
                let resources = as_list(&statement["Resource"]);
                for resource in &resources {
                    assert_ne!(resource.as_str(), Some("*"), "{name}: Resource * in {actions:?}");
                }
                match actions.as_slice() {
                    ["ssm:GetParameters"] => {
                        saw_ssm = true;
                        let arns: BTreeSet<String> =
                            resources.iter().map(|r| sub_text(r).expect("!Sub ARN").to_string()).collect();
                        assert_eq!(arns, own, "{name}: ssm:GetParameters on exactly its own parameter ARNs");
                    }
                    ["kms:Decrypt"] => {
                        let condition = &statement["Condition"]["StringEquals"];
                        assert_eq!(
                            sub_text(&condition["kms:ViaService"]),
                            Some("ssm.${AWS::Region}.amazonaws.com"),
                            "{name}: kms only via SSM"
                        );
                        let context: BTreeSet<String> = as_list(&condition["kms:EncryptionContext:PARAMETER_ARN"])
                            .iter()
                            .map(|r| sub_text(r).unwrap().to_string())
                            .collect();
                        assert_eq!(context, own, "{name}: decrypt exactly its own parameters");
                    }
                    actions if actions.iter().any(|a| a.starts_with("dynamodb:")) => state_statements.push(statement),
                    actions if actions.iter().all(|a| a.starts_with("logs:")) => {
                        assert_eq!(resources.len(), 1);
                        assert_eq!(
                            getatt(resources[0]),
                            Some(format!("{log_group}.Arn")),
                            "{name}: logs only to its own log group"
                        );
                    }
                    other => panic!("{name}: unexpected statement for {other:?}"),
                }
            }
        }
        assert!(saw_ssm, "{name}: the role may read its parameters");
        assert_eq!(xray_statements, 1, "{name}: one X-Ray statement, only with Tracing=Active");
        check_state_statements(&name, binary, &state_statements);
        let retention = tagged(&resources[log_group.as_str()]["Properties"]["RetentionInDays"]);
        assert_eq!(
            retention.map(|(tag, v)| (tag, v.as_str().map(String::from))),
            Some(("!Ref".into(), Some("LogRetentionDays".into()))),
            "{name}: log retention is set from a parameter"
        );
    }
}

/// A role's DynamoDB statements against [`own_state_access`]: none for a function that
/// keeps no state; otherwise one for its own items and one for each access to another's,
/// each with exactly its actions, on the table itself (not `*`, not an index), for items
/// whose partition key starts with that one prefix.
fn check_state_statements(name: &str, binary: &str, statements: &[&Value]) {
    let Some(access) = own_state_access(binary) else {
        assert!(statements.is_empty(), "{name}: keeps no state, yet may call DynamoDB: {statements:?}");
        return;
    };
    let read_only: &[&str] = &["dynamodb:GetItem"];
    let expected: Vec<(&[&str], &str)> =
        std::iter::once(access.own).chain(access.reads.iter().map(|prefix| (read_only, *prefix))).collect();
    assert_eq!(statements.len(), expected.len(), "{name}: one DynamoDB statement per prefix: {statements:?}");
    for statement in statements {
        let condition = statement["Condition"].as_mapping().unwrap_or_else(|| panic!("{name}: no Condition"));
        assert_eq!(condition.len(), 1, "{name}: one condition operator: {condition:?}");
        // The one item each call names: its partition key must carry the prefix.
        // ForAllValues over LeadingKeys, as in DynamoDB's fine-grained access control guide.
        let keys = statement["Condition"]["ForAllValues:StringLike"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name}: ForAllValues:StringLike on dynamodb:LeadingKeys"));
        assert_eq!(keys.len(), 1, "{name}: {keys:?}");
        let leading: Vec<&str> = as_list(&keys["dynamodb:LeadingKeys"]).iter().map(|k| k.as_str().unwrap()).collect();
        let [pattern] = leading.as_slice() else { panic!("{name}: one prefix per statement: {leading:?}") };
        let prefix = pattern.strip_suffix('*').unwrap_or_else(|| panic!("{name}: {pattern} is a prefix"));
        let (own_actions, _) = expected
            .iter()
            .find(|(_, p)| *p == prefix)
            .unwrap_or_else(|| panic!("{name}: may touch items under {prefix}, which are not its to touch"));
        let mut actions: Vec<&str> = as_list(&statement["Action"]).iter().map(|a| a.as_str().unwrap()).collect();
        actions.sort_unstable();
        assert_eq!(actions, *own_actions, "{name}: exactly the DynamoDB actions its code calls under {prefix}");
        for action in ["dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"] {
            assert!(!actions.contains(&action), "{name}: {action} reads or writes items outside its prefix unchecked");
        }
        let resources = as_list(&statement["Resource"]);
        assert_eq!(resources.len(), 1, "{name}: one resource, the table");
        assert_eq!(getatt(resources[0]), Some(format!("{STATE_TABLE}.Arn")), "{name}: on the state table only");
    }
}

#[test]
fn state_prefixes_keep_each_function_to_its_own_items() {
    let accesses: Vec<(&str, StateAccess)> =
        BINARIES.into_iter().filter_map(|b| own_state_access(b).map(|a| (b, a))).collect();
    assert_eq!(accesses.len(), 4);
    let owned: Vec<(&str, &str)> = accesses.iter().map(|(binary, a)| (*binary, a.own.1)).collect();
    for (_, a) in &owned {
        assert!(a.ends_with('#'), "{a}: a prefix ends at its separator");
        for (_, b) in &owned {
            assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}: one role could touch the other's items");
        }
    }
    // What a function reads of another's lies inside that other's prefix, and is only read.
    for (binary, access) in &accesses {
        for read in access.reads {
            assert!(read.ends_with('#'), "{binary}: {read} ends at its separator");
            let (owner, _) = owned
                .iter()
                .find(|(_, prefix)| read.starts_with(prefix))
                .unwrap_or_else(|| panic!("{binary} reads {read}, which no function owns"));
            assert_ne!(owner, binary, "{binary}: reads its own {read} through a second statement");
        }
    }
}

#[test]
fn the_state_table_is_on_demand_keyed_by_pk_with_ttl_on_expires_at() {
    let template = template();
    let table = &template["Resources"][STATE_TABLE];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let yaml = |text: &str| -> Value { serde_norway::from_str(text).unwrap() };
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "on demand: no capacity to plan, nothing billed when idle");
    assert!(p.get("ProvisionedThroughput").is_none());
    assert_eq!(p["KeySchema"], yaml("[{AttributeName: pk, KeyType: HASH}]"), "partition key pk, no sort key");
    assert_eq!(p["AttributeDefinitions"], yaml("[{AttributeName: pk, AttributeType: S}]"), "pk is a string");
    for absent in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"] {
        assert!(p.get(absent).is_none(), "no {absent}: every access is by key");
    }
    assert!(p.get("TableName").is_none(), "no fixed name: stacks side by side, and a replacement is a new table");
    assert_eq!(
        p["TimeToLiveSpecification"],
        yaml("{AttributeName: expires_at, Enabled: true}"),
        "TTL on expires_at (epoch seconds)"
    );
    // Stateful resources say what a delete or a replacement does, whichever it is.
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        assert!(table[policy].as_str().is_some(), "{policy} is explicit");
    }

    // Point-in-time recovery follows its parameter, off by default.
    let parameter = &template["Parameters"]["StatePointInTimeRecovery"];
    assert_eq!(parameter["Default"], "false");
    assert_eq!(parameter["AllowedValues"], yaml(r#"["true", "false"]"#));
    let (tag, args) = tagged(&p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]).expect("!If");
    assert_eq!(tag, "!If");
    let args = as_list(args);
    assert_eq!((args.len(), args[1].as_bool(), args[2].as_bool()), (3, Some(true), Some(false)));
    let condition = &template["Conditions"][args[0].as_str().unwrap()];
    let (tag, equals) = tagged(condition).expect("!Equals");
    let equals = as_list(equals);
    assert_eq!(
        (tag.as_str(), ref_name(equals[0]), equals[1].as_str()),
        ("!Equals", Some("StatePointInTimeRecovery"), Some("true"))
    );
}

#[test]
fn the_state_table_reaches_exactly_the_functions_that_keep_state() {
    let template = template();
    let mut with_table = BTreeSet::new();
    for (name, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let variables = &function["Properties"]["Environment"]["Variables"];
        match own_state_access(binary) {
            None => assert!(variables.get("STATE_TABLE").is_none(), "{name}: keeps no state, gets no STATE_TABLE"),
            Some(_) => {
                assert_eq!(
                    ref_name(&variables["STATE_TABLE"]),
                    Some(STATE_TABLE),
                    "{name}: STATE_TABLE names the table"
                );
                with_table.insert(binary.to_string());
            }
        }
    }
    let expected = ["room-controls", "subtitle-dispatcher", "token-generator", "webhook-receiver"].map(String::from);
    assert_eq!(with_table, BTreeSet::from(expected));
    assert_eq!(ref_name(&template["Outputs"]["StateTableName"]["Value"]), Some(STATE_TABLE));
}

#[test]
fn routes_handlers_and_sample_events_agree() {
    let template = template();
    let mut template_routes = BTreeSet::new();
    for (name, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let handled = code_routes(binary);
        let events = function["Properties"]["Events"].as_mapping().unwrap_or_else(|| panic!("{name} has no Events"));
        let mut routes = Vec::new();
        for (_, event) in events {
            assert_eq!(event["Type"], "HttpApi", "{name}");
            assert_eq!(event["Properties"]["PayloadFormatVersion"], "2.0", "{name}");
            let method = event["Properties"]["Method"].as_str().unwrap().to_uppercase();
            routes.push((method, event["Properties"]["Path"].as_str().unwrap().to_string()));
        }
        routes.extend(explicit_routes(&template, &name));
        let mut deployed_paths = BTreeSet::new();
        for (method, path) in routes {
            let (_, methods) = handled
                .iter()
                .find(|(p, _)| *p == path)
                .unwrap_or_else(|| panic!("{name}: route {method} {path} has no handler"));
            assert!(
                method == "ANY" || methods.iter().any(|m| m.as_str() == method),
                "{name}: {method} {path} is not handled"
            );
            deployed_paths.insert(path.clone());
            template_routes.insert(format!("{method} {path}"));
        }
        for (path, _) in &handled {
            assert!(deployed_paths.contains(*path), "{name}: handler route {path} is not in the template");
        }
    }

    let mut sampled = BTreeSet::new();
    for path in event_files() {
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let route_key = event["routeKey"].as_str().unwrap_or_default().to_string();
        assert!(
            template_routes.contains(&route_key),
            "{}: routeKey `{route_key}` is not a template route",
            path.display()
        );
        assert_eq!(event["requestContext"]["routeKey"], event["routeKey"], "{}", path.display());
        sampled.insert(route_key);
    }
    assert_eq!(sampled, template_routes, "every template route has a sample event");
}

/// `AWS::ApiGatewayV2::Route`s whose integration proxies to `function`, as (method, path).
fn explicit_routes(template: &Value, function: &str) -> Vec<(String, String)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut routes = Vec::new();
    for (_, route) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Route") {
        let target = sub_text(&route["Properties"]["Target"]).expect("route Target is !Sub integrations/${…}");
        let integration = target.strip_prefix("integrations/${").and_then(|t| t.strip_suffix('}')).expect("target");
        let integration = &template["Resources"][integration]["Properties"];
        assert_eq!(integration["PayloadFormatVersion"], "2.0", "{integration:?}");
        if getatt(&integration["IntegrationUri"]).as_deref() == Some(&format!("{function}.Arn")) {
            let key = route["Properties"]["RouteKey"].as_str().expect("RouteKey");
            let (method, path) = key.split_once(' ').expect("METHOD /path");
            routes.push((method.to_string(), path.to_string()));
        }
    }
    routes
}

#[test]
fn token_routes_carry_the_authorizer_only_when_auth_is_on() {
    let template = template();
    let resources = &template["Resources"];
    let route = &resources["TokenRoute"]["Properties"];
    assert_eq!(route["RouteKey"], "ANY /token");
    let if_auth = |value: &Value| {
        let (tag, args) = tagged(value).expect("!If");
        assert_eq!(tag, "!If");
        as_list(args).into_iter().cloned().collect::<Vec<_>>()
    };
    let kind = if_auth(&route["AuthorizationType"]);
    assert_eq!(
        (kind[0].as_str(), kind[1].as_str(), kind[2].as_str()),
        (Some("AuthEnabled"), Some("JWT"), Some("NONE"))
    );
    let scopes = if_auth(&route["AuthorizationScopes"]);
    assert_eq!(scopes[0], "RequireRouteScopes");
    // A browser's CORS preflight has no Authorization header: never behind the authorizer.
    // With the API's CorsConfiguration too: a route matching OPTIONS still gets the
    // preflight, and without this one that route would be ANY /token, authorizer and all.
    let preflight = &resources["TokenPreflightRoute"]["Properties"];
    assert_eq!(
        (preflight["RouteKey"].as_str(), preflight["AuthorizationType"].as_str()),
        (Some("OPTIONS /token"), Some("NONE"))
    );
    let authorizer = &resources["TokenAuthorizer"];
    assert_eq!(authorizer["Condition"], "AuthEnabled");
    assert_eq!(authorizer["Properties"]["AuthorizerType"], "JWT");
    assert_eq!(template["Parameters"]["AuthMode"]["Default"], "off", "the open /token stays the default");
    // The function gets the same scopes the route requires, so both sides agree.
    let env = &resources["TokenGeneratorFunction"]["Properties"]["Environment"]["Variables"];
    for (variable, parameter) in
        [("AUTH_MODE", "AuthMode"), ("AUTH_USER_SCOPE", "AuthUserScope"), ("AUTH_MINT_SCOPE", "AuthMintScope")]
    {
        assert_eq!(
            tagged(&env[variable]).map(|(t, v)| (t, v.as_str().map(String::from))),
            Some(("!Ref".into(), Some(parameter.into()))),
            "{variable}"
        );
    }
    // Every Cognito resource exists only when asked for.
    for (name, resource) in resources.as_mapping().unwrap() {
        if resource["Type"].as_str().is_some_and(|t| t.starts_with("AWS::Cognito::")) {
            assert_eq!(resource["Condition"], "CreateCognito", "{name:?}");
        }
    }
}

#[test]
fn outputs_give_the_api_and_token_urls() {
    let template = template();
    let outputs = &template["Outputs"];
    assert!(sub_text(&outputs["ApiBaseUrl"]["Value"]).is_some_and(|v| v.starts_with("https://${HttpApi}.execute-api.")));
    assert!(sub_text(&outputs["TokenUrl"]["Value"]).is_some_and(|v| v.ends_with("/token")));
    let api = &template["Resources"]["HttpApi"]["Properties"];
    assert!(api["DefaultRouteSettings"]["ThrottlingRateLimit"] != Value::Null, "route throttling is configured");
}

/// What the functions' own CORS answers say, for an allowed origin: (methods a preflight of
/// each route allows, whether a preflight allows each of `headers`, max age, whether any
/// answer allows credentials, whether any answer exposes headers).
struct FunctionCors {
    methods: BTreeSet<String>,
    headers: Vec<(&'static str, bool)>,
    max_age: String,
    credentials: bool,
    exposes: bool,
}

fn function_cors(headers: &[&'static str]) -> FunctionCors {
    use lambda_http::http::{HeaderMap, HeaderValue};
    use livekit_lambda_shared::routes::ROUTES;
    use livekit_lambda_shared::web::{json_response, CorsPolicy};
    use livekit_lambda_shared::EnvSettings;

    let origin = "https://app.example.com";
    let policy = CorsPolicy::from_env(&EnvSettings::from_pairs([("ALLOWED_ORIGINS", origin)])).unwrap();
    let mut request = HeaderMap::new();
    request.insert("origin", HeaderValue::from_static(origin));
    request.insert("access-control-request-method", HeaderValue::from_static("POST"));
    request.insert("access-control-request-headers", HeaderValue::from_str(&headers.join(", ")).unwrap());
    let mut answered = Vec::new();
    let mut methods = BTreeSet::new();
    for route in ROUTES {
        let preflight = policy.preflight(&request, route.methods).expect("an allowed origin's preflight");
        let allowed = preflight.headers()["access-control-allow-methods"].to_str().unwrap().to_string();
        methods.extend(allowed.split(',').map(|m| m.trim().to_string()));
        answered.push(preflight);
    }
    let mut answer = json_response(lambda_http::http::StatusCode::OK, &serde_json::json!({}));
    policy.decorate(&request, &mut answer);
    assert_eq!(answer.headers()["access-control-allow-origin"], origin);
    let allowed_headers = answered[0].headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    let allowed_headers: Vec<&str> = allowed_headers.split(',').map(str::trim).collect();
    answered.push(answer);
    FunctionCors {
        methods,
        headers: headers.iter().map(|h| (*h, allowed_headers.contains(h))).collect(),
        max_age: answered[0].headers()["access-control-max-age"].to_str().unwrap().to_string(),
        credentials: answered.iter().any(|a| a.headers().contains_key("access-control-allow-credentials")),
        exposes: answered.iter().any(|a| a.headers().contains_key("access-control-expose-headers")),
    }
}

/// With authentication on, API Gateway answers the JWT authorizer's 401/403 itself; only the
/// HTTP API's CorsConfiguration can make them readable to a browser (issue 20). It must say
/// what the functions' CorsPolicy says, so a browser sees one policy whoever answers: same
/// origins (the one parameter), methods, request headers, max age, no credentials, nothing
/// exposed; and it exists only when origins are given, so CORS stays closed by default.
#[test]
fn the_http_apis_cors_configuration_is_the_functions_cors_policy() {
    let template = template();
    let parameter = &template["Parameters"]["AllowedOrigins"];
    assert_eq!(parameter["Default"], "", "CORS is closed by default");
    let (tag, condition) = tagged(&template["Conditions"]["HasAllowedOrigins"]).expect("!Not");
    assert_eq!(tag, "!Not");
    let (tag, equals) = tagged(&as_list(condition)[0].clone()).map(|(t, v)| (t, v.clone())).expect("!Equals");
    assert_eq!(tag, "!Equals");
    let equals = as_list(&equals).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!((ref_name(&equals[0]), equals[1].as_str()), (Some("AllowedOrigins"), Some("")));

    let api = &template["Resources"]["HttpApi"]["Properties"];
    let (tag, args) = tagged(&api["CorsConfiguration"]).expect("CorsConfiguration is an !If");
    assert_eq!(tag, "!If");
    let args = as_list(args);
    assert_eq!(args[0], "HasAllowedOrigins");
    assert_eq!(ref_name(args[2]), Some("AWS::NoValue"), "no CorsConfiguration at all without origins");
    let cors = args[1];

    let (tag, split) = tagged(&cors["AllowOrigins"]).expect("AllowOrigins is a !Split");
    assert_eq!(tag, "!Split");
    let split = as_list(split);
    assert_eq!((split[0].as_str(), ref_name(split[1])), (Some(","), Some("AllowedOrigins")));

    let texts = |value: &Value| -> Vec<String> {
        as_list(value).iter().map(|v| v.as_str().expect("a plain string").to_ascii_lowercase()).collect()
    };
    // An app's own header as TokenSource.endpoint lets it add one, and the two every
    // browser caller sends.
    let probe = ["authorization", "content-type", "x-app-trace"];
    let function = function_cors(&probe);
    let methods: BTreeSet<String> = texts(&cors["AllowMethods"]).into_iter().map(|m| m.to_uppercase()).collect();
    assert_eq!(methods, function.methods, "AllowMethods: every method of the route table, as the preflights allow");
    let headers = texts(&cors["AllowHeaders"]);
    for (header, allowed_by_function) in function.headers {
        // `*` never covers Authorization (Fetch standard): it must be named.
        let allowed_by_gateway =
            headers.iter().any(|h| h == header) || (header != "authorization" && headers.iter().any(|h| h == "*"));
        assert_eq!(allowed_by_gateway, allowed_by_function, "AllowHeaders and CorsPolicy disagree on {header}");
    }
    assert_eq!(cors["MaxAge"].as_u64().map(|s| s.to_string()), Some(function.max_age), "MaxAge");
    assert_eq!(cors["AllowCredentials"].as_bool(), Some(function.credentials), "AllowCredentials");
    assert_eq!(cors.get("ExposeHeaders").is_some(), function.exposes, "ExposeHeaders");
}

/// API Gateway compares the parameter's origins with the browser's `Origin` as written;
/// the functions trim and lowercase them. The parameter accepts only values both read the
/// same way, so the gateway and the functions never allow different origins.
#[test]
fn allowed_origins_accepts_only_what_gateway_and_functions_read_alike() {
    use livekit_lambda_shared::web::CorsPolicy;
    use livekit_lambda_shared::EnvSettings;

    let template = template();
    let pattern = template["Parameters"]["AllowedOrigins"]["AllowedPattern"].as_str().expect("AllowedPattern");
    let pattern = regex_lite::Regex::new(pattern).expect("a regex");
    for good in
        ["", "*", "https://app.example.com", "https://app.example.com,http://localhost:3000", "http://[::1]:8080"]
    {
        assert!(pattern.is_match(good), "{good:?} is refused");
        let policy = CorsPolicy::from_env(&EnvSettings::from_pairs([("ALLOWED_ORIGINS", good)])).expect(good);
        let gateway: Vec<String> = good.split(',').map(String::from).collect();
        let read_alike = match policy {
            CorsPolicy::Closed => good.is_empty(),
            CorsPolicy::AnyOrigin => good == "*",
            CorsPolicy::Origins(origins) => origins == gateway,
        };
        assert!(read_alike, "{good:?}: the functions read another list than API Gateway's");
    }
    for bad in [
        "https://app.example.com/",
        "https://app.example.com, http://localhost:3000",
        "https://App.example.com",
        "app.example.com",
        "https://app.example.com/path",
        "*,https://app.example.com",
        "https://app.example.com,",
    ] {
        assert!(!pattern.is_match(bad), "{bad:?} is accepted");
    }
}

/// A route's throttle as the template deploys it by default: (rate per second, burst).
fn route_throttle(template: &Value, route_key: &str) -> (f64, f64) {
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let settings = match api["RouteSettings"].get(route_key) {
        Some(settings) => settings,
        None => &api["DefaultRouteSettings"],
    };
    let default_of = |field: &str| -> f64 {
        let value = &settings[field];
        let parameter = tagged(value)
            .filter(|(tag, _)| tag == "!Ref")
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{route_key}: {field} is a !Ref to a parameter, got {value:?}"));
        template["Parameters"][parameter]["Default"]
            .as_f64()
            .unwrap_or_else(|| panic!("parameter {parameter} has a numeric Default"))
    };
    (default_of("ThrottlingRateLimit"), default_of("ThrottlingBurstLimit"))
}

/// API Gateway's route throttle is a token bucket that starts full: each request takes a
/// token, tokens come back at `rate` per second up to `burst`. Returns how many of the
/// requests arriving at `arrivals` (seconds, ascending) are admitted (the rest get 429).
fn token_bucket_admits(rate: f64, burst: f64, arrivals: &[f64]) -> usize {
    let (mut tokens, mut last, mut admitted) = (burst, 0.0, 0);
    for &at in arrivals {
        tokens = (tokens + (at - last) * rate).min(burst);
        last = at;
        if tokens >= 1.0 {
            tokens -= 1.0;
            admitted += 1;
        }
    }
    admitted
}

/// `count` requests spread evenly over `seconds`.
fn spread(count: usize, seconds: f64) -> Vec<f64> {
    (0..count).map(|i| i as f64 * seconds / count as f64).collect()
}

/// `count` requests within `seconds`, front-loaded: half of them in the first fifth.
fn front_loaded(count: usize, seconds: f64) -> Vec<f64> {
    let first = count / 2;
    let mut arrivals = spread(first, seconds / 5.0);
    arrivals.extend(spread(count - first, seconds * 4.0 / 5.0).into_iter().map(|t| t + seconds / 5.0));
    arrivals
}

/// The meeting-start scenarios of issue 15 (docs/large-meetings.md), as failures.
const MEETING: usize = 500;
const ROOMS: usize = 200;
const PER_ROOM: usize = 10;
/// At a meeting start LiveKit sends per participant participant_joined and two
/// track_published (camera, microphone), and per room one room_started.
const EVENTS_PER_JOIN: usize = 3;

fn meeting_start_problems(token: (f64, f64), webhook: (f64, f64)) -> Vec<String> {
    let mut problems = Vec::new();
    let (rate, burst) = token;
    for (shape, arrivals) in [
        ("all in the same second", vec![0.0; MEETING]),
        ("spread over 10 s", spread(MEETING, 10.0)),
        ("front-loaded over 10 s", front_loaded(MEETING, 10.0)),
    ] {
        let admitted = token_bucket_admits(rate, burst, &arrivals);
        if admitted < MEETING {
            problems.push(format!(
                "/token at {rate}/s burst {burst}: {admitted} of {MEETING} joins {shape} admitted ({} get 429)",
                MEETING - admitted
            ));
        }
    }
    let events = ROOMS * (1 + PER_ROOM * EVENTS_PER_JOIN);
    let (rate, burst) = webhook;
    for (shape, arrivals) in
        [("spread over 10 s", spread(events, 10.0)), ("front-loaded over 10 s", front_loaded(events, 10.0))]
    {
        let admitted = token_bucket_admits(rate, burst, &arrivals);
        if admitted < events {
            problems.push(format!(
                "/webhook at {rate}/s burst {burst}: {admitted} of {events} events of {ROOMS} rooms starting {shape} admitted"
            ));
        }
    }
    // Whatever /token admits turns into ~3 webhook events per join (plus room_started):
    // the webhook bucket must never be the narrower one.
    for seconds in [0.0, 1.0, 10.0, 60.0] {
        let joins = token.1 + token.0 * seconds;
        let needed = joins * EVENTS_PER_JOIN as f64 + ROOMS as f64;
        let admits = webhook.1 + webhook.0 * seconds;
        if admits < needed {
            problems.push(format!(
                "/webhook admits {admits} in {seconds} s but the joins /token admits then cause {needed} events"
            ));
        }
    }
    problems
}

#[test]
fn the_token_bucket_model_matches_the_known_figure() {
    // Field notes: 10 rps / burst 20 admits about 120 of 200 requests spread over 10 s.
    let admitted = token_bucket_admits(10.0, 20.0, &spread(200, 10.0));
    assert!((118..=122).contains(&admitted), "{admitted}");
    assert_eq!(token_bucket_admits(1.0, 5.0, &[0.0; 10]), 5, "a burst takes only the bucket");
}

#[test]
fn route_throttles_admit_a_meeting_start_and_bound_the_rest() {
    let template = template();
    let token = route_throttle(&template, "ANY /token");
    let preflight = route_throttle(&template, "OPTIONS /token");
    let webhook = route_throttle(&template, "ANY /webhook");
    let subtitles = route_throttle(&template, "ANY /rooms/{room}/subtitles");
    let health = route_throttle(&template, "ANY /health");

    let problems = meeting_start_problems(token, webhook);
    assert!(problems.is_empty(), "the template's default throttles:\n{}", problems.join("\n"));
    assert_eq!(preflight, token, "every browser POST /token is preceded by a preflight: same bucket size");

    // The same checks fail on the single 10 rps / burst 20 every route had before issue 15
    // (the test is not vacuous).
    let before = meeting_start_problems((10.0, 20.0), (10.0, 20.0));
    assert!(before.len() >= 5, "{before:?}");

    // Bounding abuse: the open /token mints at most 100 tokens a second, sustained.
    assert!(token.0 <= 100.0, "/token rate {} bounds abuse", token.0);
    assert!(token.1 <= 1000.0, "/token burst {}", token.1);
    // Subtitles start an agent each: they stay tight.
    assert!(subtitles.0 <= 5.0 && subtitles.1 <= 10.0, "subtitles {subtitles:?}");
    assert!(subtitles.0 < token.0 && subtitles.1 < token.1);
    // All routes together stay under the account-level limit (10,000 rps, burst 5,000 per
    // Region) that API Gateway applies above every route.
    let routes = [token, webhook, subtitles];
    assert_eq!(health, token, "/health shares the default settings");
    assert!(routes.iter().map(|r| r.0).sum::<f64>() <= 10_000.0);
    assert!(routes.iter().map(|r| r.1).sum::<f64>() <= 5_000.0);
}

#[test]
fn function_timeouts_leave_room_for_ssm_under_a_cold_start_burst() {
    use livekit_lambda_shared::ssm::{DEFAULT_INIT_BUDGET_MS, DEFAULT_REQUEST_BUDGET_MS};
    let template = template();
    // Lambda's init phase has 10 s; API Gateway's integration timeout is 30 s and counts the
    // cold start too.
    const { assert!(DEFAULT_INIT_BUDGET_MS < 10_000) };
    const { assert!(DEFAULT_INIT_BUDGET_MS + DEFAULT_REQUEST_BUDGET_MS + 2_000 <= 30_000) };
    for (name, function) in functions(&template) {
        let timeout_ms = function["Properties"]["Timeout"].as_u64().unwrap() * 1000;
        assert!(
            timeout_ms >= DEFAULT_REQUEST_BUDGET_MS + 2_000,
            "{name}: Timeout {timeout_ms} ms must cover the SSM request budget {DEFAULT_REQUEST_BUDGET_MS} ms"
        );
        assert!(timeout_ms <= 29_000, "{name}: within API Gateway's 30 s");
    }
}

// ------------------------------------------------------------------ operations (issue 16)

/// A role's X-Ray statement: `!If [TracingActive, {xray:PutTraceSegments,
/// xray:PutTelemetryRecords on *}, !Ref AWS::NoValue]`. Lambda refuses Active tracing
/// without it; with PassThrough the role gets nothing. `*` is the only resource X-Ray's
/// write actions accept, and the only `*` any role may have.
fn check_xray_statement(name: &str, statement: &Value) {
    let (tag, args) = tagged(statement).unwrap_or_else(|| panic!("{name}: {statement:?}"));
    let args = as_list(args);
    assert_eq!((tag.as_str(), args.len()), ("!If", 3), "{name}: a conditional statement is an !If: {statement:?}");
    assert_eq!(args[0].as_str(), Some("TracingActive"), "{name}: X-Ray only when tracing is Active");
    assert_eq!(ref_name(args[2]), Some("AWS::NoValue"), "{name}: nothing without Active tracing");
    let statement = args[1];
    assert_eq!(statement["Effect"], "Allow");
    let actions: BTreeSet<&str> = as_list(&statement["Action"]).iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(actions, BTreeSet::from(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]), "{name}");
    assert_eq!(statement["Resource"], "*", "{name}");
    assert!(statement.get("Condition").is_none(), "{name}");
}

/// The `Tracing` parameter is what every function's TracingConfig comes from (through
/// Globals, with no function overriding it), only Active and PassThrough are allowed, and
/// `TracingActive` (which grants the X-Ray write permission, checked per role by
/// [`each_role_reads_only_its_own_parameters_and_log_group`]) means exactly Tracing=Active.
/// The HTTP API has no tracing property to set: HTTP APIs do not support X-Ray.
#[test]
fn tracing_comes_from_one_parameter_and_the_write_permission_follows_it() {
    let template = template();
    let parameter = &template["Parameters"]["Tracing"];
    let allowed: BTreeSet<&str> =
        parameter["AllowedValues"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(allowed, BTreeSet::from(["Active", "PassThrough"]));
    assert!(allowed.contains(parameter["Default"].as_str().unwrap()));
    assert!(parameter["Description"].as_str().is_some_and(|d| d.contains("HTTP API")), "says why not the API");
    assert_eq!(ref_name(&template["Globals"]["Function"]["Tracing"]), Some("Tracing"));
    for (name, function) in functions(&template) {
        assert!(function["Properties"].get("Tracing").is_none(), "{name}: overrides the Tracing parameter");
    }
    let (tag, equals) = tagged(&template["Conditions"]["TracingActive"]).expect("TracingActive");
    let equals = as_list(equals);
    assert_eq!((tag.as_str(), ref_name(equals[0]), equals[1].as_str()), ("!Equals", Some("Tracing"), Some("Active")));
    let api = &template["Resources"]["HttpApi"]["Properties"];
    assert!(api.get("TracingEnabled").is_none(), "HTTP APIs have no X-Ray tracing (REST APIs only)");
}

/// Every function gets the metrics namespace parameter as POWERTOOLS_METRICS_NAMESPACE
/// (from Globals, not overridden) and its own binary name as POWERTOOLS_SERVICE_NAME, the
/// `service` dimension that every alarm below filters on: a copied function that keeps
/// another's service name would feed that one's alarms.
#[test]
fn every_function_names_its_metrics_namespace_and_its_own_service() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(ref_name(&globals["POWERTOOLS_METRICS_NAMESPACE"]), Some("MetricsNamespace"));
    assert_eq!(template["Parameters"]["MetricsNamespace"]["Default"], "LiveKitLambda");
    let mut services = BTreeSet::new();
    for (name, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let variables = &function["Properties"]["Environment"]["Variables"];
        assert_eq!(variables["POWERTOOLS_SERVICE_NAME"], binary, "{name}");
        assert!(variables.get("POWERTOOLS_METRICS_NAMESPACE").is_none(), "{name}: overrides the namespace");
        services.insert(binary.to_string());
    }
    assert_eq!(services.len(), functions(&template).len(), "one service name per function");
}

/// The functions' metric contract (issue 16): name, unit, the dimensions besides `service`,
/// and the one service that emits it (None: any). It must match `shared/src/metrics.rs`,
/// which the functions print from; it is written out here, not imported, so that renaming
/// a metric there fails this test instead of silencing an alarm. docs/operating.md lists
/// the same table.
const METRICS: &[(&str, &str, &[&str], Option<&str>)] = &[
    ("ColdStart", "Count", &[], None),
    ("Requests", "Count", &["status_class"], None),
    ("Errors", "Count", &["code"], None),
    ("TokensIssued", "Count", &["form", "caller"], Some("token-generator")),
    ("CredentialFetchTime", "Milliseconds", &[], None),
    ("CredentialFetchFailures", "Count", &["reason"], None),
    ("WebhookEvents", "Count", &["event"], Some("webhook-receiver")),
    ("WebhookVerificationFailures", "Count", &[], Some("webhook-receiver")),
    ("WebhookDuplicates", "Count", &[], Some("webhook-receiver")),
    ("LiveKitApiErrors", "Count", &["method"], None),
    ("SubtitleDispatches", "Count", &[], Some("subtitle-dispatcher")),
    ("RateLimited", "Count", &[], Some("subtitle-dispatcher")),
];

/// The contract above is the one the functions print from: same names, units and
/// dimensions as `shared::metrics::METRICS`, so a rename on either side fails here.
#[test]
fn the_template_contract_is_the_functions_contract() {
    let code: Vec<(String, String, Vec<&str>)> = livekit_lambda_shared::metrics::METRICS
        .iter()
        .map(|(name, unit, labels)| (name.to_string(), format!("{unit:?}"), labels.to_vec()))
        .collect();
    let here: Vec<(String, String, Vec<&str>)> =
        METRICS.iter().map(|(name, unit, labels, _)| (name.to_string(), unit.to_string(), labels.to_vec())).collect();
    assert_eq!(here, code);
}

/// Dimensions whose values are a closed set in the contract.
const DIMENSION_VALUES: &[(&str, &[&str])] =
    &[("status_class", &["2xx", "3xx", "4xx", "5xx"]), ("reason", &["throttled", "failed"])];

/// AWS/Lambda metrics the alarms and dashboard may read (dimension FunctionName only).
const LAMBDA_METRICS: &[&str] = &["Duration", "Errors", "Throttles"];

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Namespace {
    /// `!Ref MetricsNamespace` in the template, the substituted value in the dashboard.
    Ours,
    Aws(String),
}

/// One metric an alarm or a widget reads. `dimensions` maps each name to its value, or to
/// None in a SEARCH schema (all values). Function names are `function:<logical id>`.
#[derive(Debug)]
struct MetricRef {
    origin: String,
    namespace: Namespace,
    name: String,
    dimensions: std::collections::BTreeMap<String, Option<String>>,
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    resources.iter().filter(|(_, r)| r["Type"] == kind).map(|(n, r)| (n.as_str().unwrap().to_string(), r)).collect()
}

fn alarm_metric(origin: &str, namespace: &Value, name: &Value, dimensions: &Value) -> MetricRef {
    let namespace = match (ref_name(namespace), namespace.as_str()) {
        (Some("MetricsNamespace"), _) => Namespace::Ours,
        (None, Some(aws)) if aws.starts_with("AWS/") => Namespace::Aws(aws.to_string()),
        _ => panic!("{origin}: namespace is !Ref MetricsNamespace or AWS/…, got {namespace:?}"),
    };
    let dimensions = match dimensions {
        Value::Null => Default::default(),
        list => as_list(list)
            .into_iter()
            .map(|d| {
                let value = match (ref_name(&d["Value"]), d["Value"].as_str()) {
                    (Some(resource), _) => format!("function:{resource}"),
                    (None, Some(v)) => v.to_string(),
                    _ => panic!("{origin}: dimension value {d:?}"),
                };
                (d["Name"].as_str().unwrap().to_string(), Some(value))
            })
            .collect(),
    };
    MetricRef { origin: origin.to_string(), namespace, name: name.as_str().unwrap().to_string(), dimensions }
}

/// Every metric each alarm reads: its one metric, or each MetricStat of its metric math.
fn alarm_metrics(template: &Value) -> Vec<MetricRef> {
    let mut metrics = Vec::new();
    for (name, alarm) in resources_of_type(template, "AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        match p.get("Metrics") {
            None => metrics.push(alarm_metric(&name, &p["Namespace"], &p["MetricName"], &p["Dimensions"])),
            Some(list) => {
                assert!(p.get("MetricName").is_none(), "{name}: one metric or metric math, not both");
                for query in list.as_sequence().unwrap() {
                    if let Some(stat) = query.get("MetricStat") {
                        let m = &stat["Metric"];
                        metrics.push(alarm_metric(&name, &m["Namespace"], &m["MetricName"], &m["Dimensions"]));
                    } else {
                        let expression = query["Expression"].as_str().or_else(|| sub_text(&query["Expression"]));
                        let expression = expression.unwrap_or_else(|| panic!("{name}: {query:?}"));
                        assert!(!expression.contains("SEARCH"), "{name}: alarms cannot use SEARCH");
                    }
                }
            }
        }
    }
    metrics
}

/// The sample values the dashboard test substitutes for the DashboardBody's placeholders.
const SAMPLE_NAMESPACE: &str = "Sample/Namespace";

/// The DashboardBody with `${…}` replaced: the namespace by [`SAMPLE_NAMESPACE`], a
/// function by `function:<logical id>`, the Region by a sample. Any other placeholder
/// fails: the body may only depend on those.
fn dashboard_body(template: &Value) -> serde_json::Value {
    let dashboards = resources_of_type(template, "AWS::CloudWatch::Dashboard");
    let [(name, dashboard)] = &dashboards[..] else { panic!("one dashboard: {dashboards:?}") };
    let body = sub_text(&dashboard["Properties"]["DashboardBody"]).expect("DashboardBody is a !Sub string");
    let function_ids: BTreeSet<String> = functions(template).into_iter().map(|(n, _)| n).collect();
    let mut text = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed placeholder") + start;
        let placeholder = &rest[start + 2..end];
        match placeholder {
            "MetricsNamespace" => text.push_str(SAMPLE_NAMESPACE),
            "AWS::Region" => text.push_str("eu-west-1"),
            f if function_ids.contains(f) => text.push_str(&format!("function:{f}")),
            other => panic!("{name}: unexpected placeholder ${{{other}}}"),
        }
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: DashboardBody is not JSON: {e}\n{text}"))
}

/// `SEARCH('{"ns","dim",…} MetricName="X"', …)` → (namespace, dimensions, metric name).
fn parse_search(expression: &str) -> (String, Vec<String>, String) {
    let schema = expression.split_once("SEARCH('{").and_then(|(_, r)| r.split_once('}')).expect("a schema");
    let mut names = schema.0.split(',').map(|n| n.trim().trim_matches('"').to_string());
    let namespace = names.next().unwrap();
    let metric = schema.1.split_once("MetricName=\"").and_then(|(_, r)| r.split_once('"')).expect("MetricName=\"…\"");
    (namespace, names.collect(), metric.0.to_string())
}

/// Every metric each widget reads: explicit `[namespace, name, dim, value, …]` rows and
/// the metric schema of each SEARCH. Other expressions may only combine ids of the widget.
fn dashboard_metrics(body: &serde_json::Value) -> Vec<MetricRef> {
    let mut metrics = Vec::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        let title = widget["properties"]["title"].as_str().expect("every widget has a title");
        let rows = widget["properties"]["metrics"].as_array().unwrap_or_else(|| panic!("{title}: metrics"));
        let mut ids = BTreeSet::new();
        for row in rows {
            let row = row.as_array().unwrap();
            let namespace = |ns: &str| {
                if ns == SAMPLE_NAMESPACE {
                    Namespace::Ours
                } else {
                    assert!(ns.starts_with("AWS/"), "{title}: namespace {ns} is neither AWS/ nor the parameter");
                    Namespace::Aws(ns.to_string())
                }
            };
            if let Some(expression) = row[0]["expression"].as_str() {
                if expression.contains("SEARCH(") {
                    let (ns, dimensions, name) = parse_search(expression);
                    metrics.push(MetricRef {
                        origin: title.to_string(),
                        namespace: namespace(&ns),
                        name,
                        dimensions: dimensions.into_iter().map(|d| (d, None)).collect(),
                    });
                } else {
                    let words = expression.split(|c: char| !c.is_ascii_alphanumeric() && c != '_');
                    for word in words.filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase())) {
                        assert!(ids.contains(word), "{title}: {expression} uses {word}, not an earlier id");
                    }
                }
                ids.insert(row[0]["id"].as_str().unwrap_or_else(|| panic!("{title}: expression without id")));
                continue;
            }
            let strings: Vec<&str> = row.iter().filter_map(|v| v.as_str()).collect();
            assert!(row.iter().filter(|v| !v.is_string()).all(|v| v.is_object()), "{title}: {row:?}");
            assert!(
                strings.len() >= 2 && strings.len().is_multiple_of(2),
                "{title}: [namespace, name, dim, value…] {row:?}"
            );
            metrics.push(MetricRef {
                origin: title.to_string(),
                namespace: namespace(strings[0]),
                name: strings[1].to_string(),
                dimensions: strings[2..].chunks(2).map(|kv| (kv[0].to_string(), Some(kv[1].to_string()))).collect(),
            });
        }
    }
    metrics
}

/// The metrics the template itself makes from logs (`AWS::Logs::MetricFilter` in our
/// namespace): name → the filter's Condition.
fn metric_filter_metrics(template: &Value) -> Vec<(String, Value)> {
    let mut names = Vec::new();
    for (name, filter) in resources_of_type(template, "AWS::Logs::MetricFilter") {
        for t in filter["Properties"]["MetricTransformations"].as_sequence().unwrap() {
            assert_eq!(ref_name(&t["MetricNamespace"]), Some("MetricsNamespace"), "{name}");
            assert!(t.get("Dimensions").is_none(), "{name}: an alarm could not sum dimensioned metrics");
            names.push((t["MetricName"].as_str().unwrap().to_string(), filter["Condition"].clone()));
        }
    }
    names
}

/// One metric reference against the contract: a name the functions print (or a metric
/// filter of the template makes), exactly its dimension set (each set is its own metric:
/// one dimension more or less reads nothing), a `service` that emits it, values inside the
/// closed sets; AWS/Lambda metrics by FunctionName of one of the stack's functions.
fn check_metric(template: &Value, metric: &MetricRef) {
    let MetricRef { origin, name, dimensions, .. } = metric;
    let function_ids: BTreeSet<String> =
        functions(template).into_iter().map(|(n, _)| format!("function:{n}")).collect();
    let binaries: BTreeSet<String> = functions(template)
        .iter()
        .map(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_string())
        .collect();
    let keys: BTreeSet<&str> = dimensions.keys().map(String::as_str).collect();
    match &metric.namespace {
        Namespace::Aws(ns) => {
            assert_eq!(ns, "AWS/Lambda", "{origin}: {name}");
            assert!(LAMBDA_METRICS.contains(&name.as_str()), "{origin}: AWS/Lambda {name}");
            assert_eq!(keys, BTreeSet::from(["FunctionName"]), "{origin}: {name}");
            let function = dimensions["FunctionName"].as_deref().unwrap();
            assert!(function_ids.contains(function), "{origin}: {name} of {function}, not a function of the stack");
        }
        Namespace::Ours => {
            if metric_filter_metrics(template).iter().any(|(n, _)| n == name) {
                assert!(dimensions.is_empty(), "{origin}: {name} has no dimensions");
                return;
            }
            let &(_, _, extra, only) = METRICS
                .iter()
                .find(|(n, ..)| n == name)
                .unwrap_or_else(|| panic!("{origin}: {name} is not in the metric contract (shared/src/metrics.rs)"));
            let expected: BTreeSet<&str> = std::iter::once("service").chain(extra.iter().copied()).collect();
            assert_eq!(keys, expected, "{origin}: {name}'s dimension set");
            if let Some(service) = &dimensions["service"] {
                assert!(binaries.contains(service), "{origin}: {name} of service {service}: no such function");
                if let Some(only) = only {
                    assert_eq!(service, only, "{origin}: only {only} emits {name}");
                }
            }
            for (dimension, value) in dimensions {
                let closed = DIMENSION_VALUES.iter().find(|(d, _)| d == dimension);
                if let (Some((_, values)), Some(value)) = (closed, value) {
                    assert!(values.contains(&value.as_str()), "{origin}: {name} {dimension}={value}");
                }
            }
        }
    }
}

/// Every metric an alarm or a dashboard widget reads exists: it is in the functions'
/// metric contract ([`METRICS`]) with exactly its dimensions and a service that emits it,
/// or a Lambda metric of one of the stack's functions, or a metric the template's own
/// metric filter makes. A typo, a renamed metric or a missing dimension would otherwise
/// give an alarm that never fires and a graph that stays empty.
#[test]
fn alarms_and_dashboard_read_only_metrics_that_exist() {
    let template = template();
    let alarms = alarm_metrics(&template);
    let widgets = dashboard_metrics(&dashboard_body(&template));
    assert!(alarms.len() >= 20 && widgets.len() >= 20, "{} alarm and {} widget metrics", alarms.len(), widgets.len());
    for metric in alarms.iter().chain(&widgets) {
        check_metric(&template, metric);
    }
    // The check can fail: a metric outside the contract, and one with a dimension short.
    for bad in [
        MetricRef {
            origin: "probe".into(),
            namespace: Namespace::Ours,
            name: "TokenIssued".into(),
            dimensions: [("service".into(), None)].into(),
        },
        MetricRef {
            origin: "probe".into(),
            namespace: Namespace::Ours,
            name: "Requests".into(),
            dimensions: [("service".into(), None)].into(),
        },
    ] {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_metric(&template, &bad)));
        assert!(result.is_err(), "{bad:?} passed");
    }
    // The dashboard shows every metric of the contract somewhere.
    for (name, ..) in METRICS {
        assert!(widgets.iter().any(|m| m.namespace == Namespace::Ours && m.name == *name), "no widget shows {name}");
    }
}

/// Every alarm notifies AlarmTopicArn, on ALARM and on OK, only when one is given (an
/// empty parameter leaves the actions out instead of failing the deploy), treats no data
/// as healthy, and says in its description what it means and what to do. An alarm on a
/// metric made from the access log exists only when that log does.
#[test]
fn every_alarm_notifies_the_topic_when_given_and_explains_itself() {
    let template = template();
    let expected: Value =
        serde_norway::from_str("!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]").unwrap();
    let (tag, equals) = tagged(&template["Conditions"]["HasAlarmTopic"]).expect("HasAlarmTopic");
    assert_eq!(tag, "!Not");
    let equals = tagged(as_list(equals)[0]).expect("!Equals").1;
    assert_eq!(ref_name(as_list(equals)[0]), Some("AlarmTopicArn"));
    assert_eq!(as_list(equals)[1].as_str(), Some(""));
    assert_eq!(template["Parameters"]["AlarmTopicArn"]["Default"], "");
    let filters = metric_filter_metrics(&template);
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 14, "{} alarms", alarms.len());
    for (name, alarm) in &alarms {
        let p = &alarm["Properties"];
        assert_eq!(p["AlarmActions"], expected, "{name}");
        assert_eq!(p["OKActions"], expected, "{name}");
        assert_eq!(p["TreatMissingData"], "notBreaching", "{name}: no requests is healthy");
        let description = p["AlarmDescription"].as_str().or_else(|| sub_text(&p["AlarmDescription"])).unwrap_or("");
        assert!(description.len() >= 150, "{name}: say what it means and what to do: {description:?}");
        // Thresholds operators tune are parameters with a default.
        if let Some(parameter) = ref_name(&p["Threshold"]) {
            assert!(template["Parameters"][parameter]["Default"].as_f64().is_some(), "{name}: {parameter}");
        } else {
            assert!(p["Threshold"].as_f64().is_some(), "{name}: Threshold");
        }
        let metric = p["MetricName"].as_str();
        if let Some((_, condition)) = filters.iter().find(|(n, _)| Some(n.as_str()) == metric) {
            assert_eq!(&alarm["Condition"], condition, "{name}: exists exactly when its metric filter does");
        }
    }
}

/// Alarms reading `metric` (in our namespace) whose `dimension` takes these values.
fn alarm_values(alarms: &[MetricRef], metric: &str, service: &str, dimension: &str) -> BTreeSet<String> {
    alarms
        .iter()
        .filter(|m| m.namespace == Namespace::Ours && m.name == metric)
        .filter(|m| m.dimensions["service"].as_deref() == Some(service))
        .filter_map(|m| m.dimensions.get(dimension).cloned().flatten())
        .collect()
}

/// The alarms issue 16 asks for exist for every function: Lambda errors and throttles,
/// the 5xx share over all four status classes (a share without 2xx in the total would be
/// 100 % on the first 5xx), SSM credential failures for both reasons, webhook verification
/// failures, and the HTTP API's 429s from the access log (HTTP APIs publish no 429
/// metric), which exist exactly when access logging does and read a `status` the access
/// log writes as a string, as the filter compares it.
#[test]
fn the_alarms_cover_every_function_and_each_failure_of_the_issue() {
    let template = template();
    let alarms = alarm_metrics(&template);
    for (logical, function) in functions(&template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        for lambda_metric in ["Errors", "Throttles"] {
            assert!(
                alarms.iter().any(|m| m.namespace == Namespace::Aws("AWS/Lambda".into())
                    && m.name == lambda_metric
                    && m.dimensions["FunctionName"].as_deref() == Some(&format!("function:{logical}"))),
                "{logical}: no {lambda_metric} alarm"
            );
        }
        let classes = alarm_values(&alarms, "Requests", binary, "status_class");
        assert_eq!(classes, ["2xx", "3xx", "4xx", "5xx"].map(String::from).into(), "{binary}: 5xx share");
        let reasons = alarm_values(&alarms, "CredentialFetchFailures", binary, "reason");
        assert_eq!(reasons, ["failed", "throttled"].map(String::from).into(), "{binary}: credential failures");
        // The 5xx share and the credential sum each sit in one alarm of that service.
        for metric in ["Requests", "CredentialFetchFailures"] {
            let origins: BTreeSet<&str> = alarms
                .iter()
                .filter(|m| m.name == metric && m.dimensions["service"].as_deref() == Some(binary))
                .map(|m| m.origin.as_str())
                .collect();
            assert_eq!(origins.len(), 1, "{binary}: {metric} in one alarm: {origins:?}");
        }
    }
    assert!(alarms.iter().any(|m| m.name == "WebhookVerificationFailures"), "webhook verification alarm");

    let filters = resources_of_type(&template, "AWS::Logs::MetricFilter");
    let [(name, filter)] = &filters[..] else { panic!("one metric filter: {filters:?}") };
    assert_eq!(filter["Condition"], "EnableAccessLogging", "{name}");
    assert_eq!(ref_name(&filter["Properties"]["LogGroupName"]), Some("HttpApiAccessLogGroup"));
    assert_eq!(template["Resources"]["HttpApiAccessLogGroup"]["Condition"], "EnableAccessLogging");
    assert_eq!(filter["Properties"]["FilterPattern"], "{ $.status = \"429\" }", "{name}");
    let format = tagged(&template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"])
        .map(|(_, args)| as_list(args)[1]["Format"].as_str().unwrap().to_string())
        .expect("AccessLogSettings is an !If on access logging");
    assert!(format.contains(r#""status":"$context.status""#), "the access log's status is a JSON string");
    let metric = filter["Properties"]["MetricTransformations"][0]["MetricName"].as_str().unwrap();
    assert!(alarms.iter().any(|m| m.name == metric), "an alarm on {metric}");
}

/// A dashboard widget's place on CloudWatch's 24-column grid, its title and what it reads.
struct Widget {
    x: u64,
    y: u64,
    width: u64,
    height: u64,
    title: String,
    reads: String,
}

fn widgets(body: &serde_json::Value) -> Vec<Widget> {
    let metrics = dashboard_metrics(body);
    body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let number = |field: &str| w[field].as_u64().unwrap_or_else(|| panic!("widget {field}: {w}"));
            let title = w["properties"]["title"].as_str().unwrap().to_string();
            let mut reads: Vec<String> = Vec::new();
            for m in metrics.iter().filter(|m| m.origin == title) {
                let by: Vec<&str> = m
                    .dimensions
                    .iter()
                    .filter(|(k, v)| v.is_none() && *k != "service")
                    .map(|(k, _)| k.as_str())
                    .collect();
                let mut text = match &m.namespace {
                    Namespace::Aws(ns) => format!("{ns} {}", m.name),
                    Namespace::Ours => m.name.clone(),
                };
                if !by.is_empty() {
                    text.push_str(&format!(" by {}", by.join(", ")));
                }
                if !reads.contains(&text) {
                    reads.push(text);
                }
            }
            Widget {
                x: number("x"),
                y: number("y"),
                width: number("width"),
                height: number("height"),
                title,
                reads: reads.join(", "),
            }
        })
        .collect()
}

/// The dashboard body is JSON once its placeholders are filled (it depends only on the
/// namespace, the Region and the function names), every widget has a title and a region
/// and reads its own metrics through the namespace parameter (checked in
/// [`dashboard_metrics`]), and the widgets fit the 24-column grid without overlapping.
#[test]
fn the_dashboard_is_json_on_the_grid_with_the_namespace_parameter() {
    let template = template();
    let body = dashboard_body(&template);
    // The namespace is quoted in every SEARCH schema: the parameter may hold `/`, `#`, `:`.
    let mut searches = 0;
    for widget in body["widgets"].as_array().unwrap() {
        for row in widget["properties"]["metrics"].as_array().unwrap() {
            let Some(expression) = row[0]["expression"].as_str().filter(|e| e.contains("SEARCH(")) else { continue };
            assert!(expression.contains(&format!("SEARCH('{{\"{SAMPLE_NAMESPACE}\",")), "{expression}");
            searches += 1;
        }
    }
    assert!(searches >= 6, "the dashboard sums across labels with SEARCH: {searches}");
    let widgets = widgets(&body);
    assert!((8..=16).contains(&widgets.len()), "a few widgets on-call reads first, got {}", widgets.len());
    for (i, w) in widgets.iter().enumerate() {
        assert!(w.width > 0 && w.height > 0 && w.x + w.width <= 24, "{}: off the 24-column grid", w.title);
        for other in &widgets[i + 1..] {
            let apart = w.x + w.width <= other.x
                || other.x + other.width <= w.x
                || w.y + w.height <= other.y
                || other.y + other.height <= w.y;
            assert!(apart, "{} overlaps {}", w.title, other.title);
        }
    }
    for widget in body["widgets"].as_array().unwrap() {
        assert_eq!(widget["properties"]["region"], "eu-west-1", "{widget}");
    }
}

/// Column and row size of the picture, in pixels.
const SVG_COLUMN: u64 = 40;
const SVG_ROW: u64 = 30;
const SVG_MARGIN: u64 = 10;
const SVG_HEADER: u64 = 30;

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Words of `text` in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// The dashboard's layout as an SVG: each widget's rectangle at its grid place, its title,
/// and the metrics it reads.
fn dashboard_svg(name: &str, widgets: &[Widget]) -> String {
    let rows = widgets.iter().map(|w| w.y + w.height).max().unwrap_or(0);
    let (width, height) = (24 * SVG_COLUMN + 2 * SVG_MARGIN, rows * SVG_ROW + 2 * SVG_MARGIN + SVG_HEADER);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\">\n\
         <rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n\
         <text x=\"{SVG_MARGIN}\" y=\"{}\" font-size=\"15\" font-weight=\"bold\" fill=\"#16191f\">{}</text>\n",
        SVG_MARGIN + 16,
        xml_escape(&format!("CloudWatch dashboard {name}: layout on the 24-column grid (drawn from template.yaml)"))
    );
    for w in widgets {
        let (x, y) = (SVG_MARGIN + w.x * SVG_COLUMN, SVG_MARGIN + SVG_HEADER + w.y * SVG_ROW);
        let (rw, rh) = (w.width * SVG_COLUMN - 6, w.height * SVG_ROW - 6);
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{rw}\" height=\"{rh}\" rx=\"4\" fill=\"#f2f8fd\" stroke=\"#0972d3\" stroke-width=\"1.5\"/>\n"
        ));
        let chars = ((rw - 20) / 8) as usize;
        let mut line_y = y + 22;
        for line in wrap(&w.title, chars) {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{line_y}\" font-size=\"14\" font-weight=\"bold\" fill=\"#16191f\">{}</text>\n",
                x + 10,
                xml_escape(&line)
            ));
            line_y += 18;
        }
        line_y += 4;
        for line in wrap(&w.reads, ((rw - 20) / 6) as usize) {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{line_y}\" font-size=\"11\" fill=\"#5f6b7a\">{}</text>\n",
                x + 10,
                xml_escape(&line)
            ));
            line_y += 15;
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#8d99a8\" text-anchor=\"end\">x {} y {} · {}×{}</text>\n",
            x + rw - 8,
            y + rh - 8,
            w.x,
            w.y,
            w.width,
            w.height
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// docs/dashboard.svg is the dashboard's layout drawn from the template's DashboardBody
/// (each widget at its x/y/width/height on the 24-column grid, its title and metrics), so
/// the picture in the README cannot drift from the template: this test fails when they
/// differ. After changing the dashboard, redraw it with
/// `make docs` and commit the SVG.
#[test]
fn the_dashboard_picture_in_the_docs_matches_the_template() {
    let template = template();
    let svg = dashboard_svg("<stack>-livekit", &widgets(&dashboard_body(&template)));
    let path = workspace_root().join("docs/dashboard.svg");
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &svg).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == svg,
        "docs/dashboard.svg differs from the template's dashboard: run `make docs` and commit it"
    );
}

/// docs/operating.md lists every metric of the contract with its unit, so the page
/// operators read cannot lose one.
#[test]
fn the_operating_guide_lists_every_metric_with_its_unit() {
    let guide = std::fs::read_to_string(workspace_root().join("docs/operating.md")).expect("docs/operating.md");
    for (name, unit, ..) in METRICS {
        assert!(guide.contains(&format!("| `{name}` | {unit} |")), "docs/operating.md: no row | `{name}` | {unit} |");
    }
}

/// The route table's `guarded` is what the template deploys: a guarded route sits behind
/// the JWT authorizer (always, or whenever authentication is on), an open one never; its
/// `OPTIONS` preflight is always open. The local server guards by the same table.
#[test]
fn guarded_routes_are_the_ones_behind_the_authorizer() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    for route in livekit_lambda_shared::routes::ROUTES {
        let explicit: Vec<&Value> = resources
            .values()
            .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Route")
            .map(|r| &r["Properties"])
            .filter(|p| {
                p["RouteKey"].as_str().and_then(|k| k.split_once(' ')).is_some_and(|(_, path)| path == route.path)
            })
            .collect();
        for properties in &explicit {
            let key = properties["RouteKey"].as_str().unwrap();
            let kind = &properties["AuthorizationType"];
            let behind = kind == "JWT"
                || tagged(kind)
                    .is_some_and(|(tag, args)| tag == "!If" && as_list(args).get(1).is_some_and(|v| *v == "JWT"));
            if key.starts_with("OPTIONS ") {
                assert_eq!(kind, "NONE", "{key}: a preflight carries no token");
            } else {
                assert_eq!(behind, route.guarded, "{key}: guarded in shared/src/routes.rs is {}", route.guarded);
            }
        }
        if route.guarded {
            assert!(
                explicit.iter().any(|p| p["RouteKey"] == format!("ANY {}", route.path)),
                "{}: a guarded route is an explicit route (its authorizer is conditional)",
                route.path
            );
        }
    }
}

/// How a route's `AuthorizationType` reads in the docs.
fn authorizer_text(kind: &Value) -> String {
    if kind == "JWT" {
        return "JWT".into();
    }
    if let Some((tag, args)) = tagged(kind).filter(|(tag, _)| tag == "!If") {
        let args = as_list(args);
        if let (Some(condition), Some(then)) = (args.first().and_then(|v| v.as_str()), args.get(1)) {
            if *then == "JWT" {
                return format!("JWT when `{condition}`");
            }
        }
        return format!("{tag} …");
    }
    "none".into()
}

/// Every route the template deploys: (route key, function binary, authorizer, condition).
fn deployed_routes(template: &Value) -> Vec<(String, String, String, String)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let binary_of = |logical: &str| {
        template["Resources"][logical]["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or(logical).to_string()
    };
    let mut routes = Vec::new();
    for (name, function) in functions(template) {
        for (_, event) in function["Properties"]["Events"].as_mapping().into_iter().flatten() {
            let p = &event["Properties"];
            let key = format!(
                "{} {}",
                p["Method"].as_str().unwrap_or_default().to_uppercase(),
                p["Path"].as_str().unwrap_or_default()
            );
            let condition = function["Condition"].as_str().unwrap_or_default().to_string();
            routes.push((key, binary_of(&name), "none".to_string(), condition));
        }
    }
    for (_, route) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Route") {
        let target = sub_text(&route["Properties"]["Target"]).unwrap_or_default();
        let integration = target.trim_start_matches("integrations/${").trim_end_matches('}');
        let uri = getatt(&template["Resources"][integration]["Properties"]["IntegrationUri"]).unwrap_or_default();
        let key = route["Properties"]["RouteKey"].as_str().unwrap_or_default().to_string();
        let condition = route["Condition"].as_str().unwrap_or_default().to_string();
        routes.push((
            key,
            binary_of(uri.trim_end_matches(".Arn")),
            authorizer_text(&route["Properties"]["AuthorizationType"]),
            condition,
        ));
    }
    // By path, then with the method: the route table's order is not the template's.
    routes.sort_by(|a, b| {
        let split = |k: &str| k.split_once(' ').map(|(m, p)| (p.to_string(), m.to_string())).unwrap_or_default();
        split(&a.0).cmp(&split(&b.0))
    });
    routes
}

/// A description folded onto one line.
fn one_line(value: &Value) -> String {
    value.as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What docs/deploy.md shows of the template, generated: the routes and which function
/// answers each, the outputs, and each function's environment and state-table items.
fn deploy_facts(template: &Value) -> String {
    let when =
        |condition: &str| if condition.is_empty() { "always".to_string() } else { format!("when `{condition}`") };
    let mut out = vec![
        "Routes (a path the API does not know gets API Gateway's own `404 {\"message\":\"Not Found\"}`; locally `404 not_found`):".to_string(),
        String::new(),
        "| route | function | authorizer | deployed |".to_string(),
        "| --- | --- | --- | --- |".to_string(),
    ];
    for (key, binary, authorizer, condition) in deployed_routes(template) {
        out.push(format!("| `{key}` | {binary} | {authorizer} | {} |", when(&condition)));
    }
    out.extend([
        "".to_string(),
        "Outputs:".to_string(),
        String::new(),
        "| output | deployed | what |".to_string(),
        "| --- | --- | --- |".to_string(),
    ]);
    for (name, output) in template["Outputs"].as_mapping().expect("Outputs") {
        let description = one_line(&output["Description"]);
        let description = if description.is_empty() { "—".to_string() } else { description.replace('|', "\\|") };
        out.push(format!(
            "| `{}` | {} | {description} |",
            name.as_str().unwrap_or_default(),
            when(output["Condition"].as_str().unwrap_or_default())
        ));
    }
    out.extend([
        String::new(),
        "Each function's environment (set from the parameters) and what its role may do in the state table:"
            .to_string(),
        String::new(),
        "| function | environment variables | state table |".to_string(),
        "| --- | --- | --- |".to_string(),
    ]);
    for (name, function) in functions(template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_default();
        let variables: Vec<String> = function["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(k, _)| format!("`{}`", k.as_str().unwrap_or_default()))
            .collect();
        let role = getatt(&function["Properties"]["Role"]).unwrap_or_default();
        let role = &template["Resources"][role.trim_end_matches(".Arn")];
        let mut state = Vec::new();
        for policy in role["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten() {
                let actions: Vec<&str> = as_list(&statement["Action"]).iter().filter_map(|a| a.as_str()).collect();
                if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                    continue;
                }
                let keys = as_list(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
                let keys: Vec<String> = keys.iter().filter_map(|k| k.as_str()).map(|k| format!("`{k}`")).collect();
                let mut actions: Vec<&str> = actions.iter().map(|a| a.trim_start_matches("dynamodb:")).collect();
                actions.sort_unstable();
                state.push(format!("items {} ({})", keys.join(", "), actions.join(", ")));
            }
        }
        let state = if state.is_empty() { "none".to_string() } else { state.join("; ") };
        let _ = name;
        out.push(format!("| {binary} | {} | {state} |", variables.join(", ")));
    }
    out.join("\n")
}

const DEPLOY_BEGIN: &str = "<!-- generated from template.yaml by `make docs`: begin -->";
const DEPLOY_END: &str = "<!-- generated from template.yaml by `make docs`: end -->";

/// docs/deploy.md's routes, outputs and per-function environment come from the template
/// (issue 26: the page had drifted to two routes, four outputs and no table access for the
/// token generator). `make docs` rewrites the block; this test fails when it is stale.
#[test]
fn the_deploy_page_shows_the_templates_routes_outputs_and_environment() {
    let path = workspace_root().join("docs/deploy.md");
    let page = std::fs::read_to_string(&path).expect("docs/deploy.md");
    let (Some(begin), Some(end)) = (page.find(DEPLOY_BEGIN), page.find(DEPLOY_END)) else {
        panic!("docs/deploy.md has no {DEPLOY_BEGIN} … {DEPLOY_END} block");
    };
    let wanted = format!("{}{DEPLOY_BEGIN}\n{}\n{}", &page[..begin], deploy_facts(&template()), &page[end..]);
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &wanted).unwrap();
        return;
    }
    assert!(
        wanted == page,
        "docs/deploy.md's generated block differs from template.yaml: run `make docs` and commit it"
    );
}

/// Every template parameter is in docs/deploy.md's parameter table (the table groups them
/// by hand, so it is checked rather than generated).
#[test]
fn the_deploy_page_names_every_template_parameter() {
    let page = std::fs::read_to_string(workspace_root().join("docs/deploy.md")).expect("docs/deploy.md");
    let template = template();
    let missing: Vec<&str> = template["Parameters"]
        .as_mapping()
        .expect("Parameters")
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|name| !page.contains(&format!("`{name}`")))
        .collect();
    assert!(missing.is_empty(), "docs/deploy.md's parameter table does not name: {missing:?}");
}
