"""PyPI livekit-api as the judge: its TokenVerifier must accept every token form the
token generator issues (cases/tokens.json, the corpus sdk.test.mjs uses too), with the
claims each case asks for. The local server runs as a subprocess on a free port.

Webhooks: every delivery of cases/webhooks.json goes both to livekit.api.WebhookReceiver
and to our `POST /webhook`: each must give the verdict the corpus names, and ours must
equal the SDK's unless the case says why not (`why_different`). lib/webhooks.mjs holds
the same rules for the Node suite.

Run: tests/.venv/bin/python -m pytest tests/conformance/test_python_sdk.py
"""

import base64
import hashlib
import json
import os
import time
import re
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import jwt  # PyJWT, a dependency of livekit-api: reads exp/nbf, which Claims does not expose
import pytest
from livekit.api import TokenVerifier, WebhookReceiver

HERE = Path(__file__).resolve().parent
CORPUS = json.loads((HERE / "cases" / "tokens.json").read_text(encoding="utf-8"))
WEBHOOKS = json.loads((HERE / "cases" / "webhooks.json").read_text(encoding="utf-8"))
COMMON = CORPUS["common"]
# Same fixed test credentials as lib/local-server.mjs.
API_KEY = "APIconformance"
API_SECRET = "conformance-secret-not-for-production-0123456789"
LIVEKIT_URL = "wss://conformance.example.com"
ALLOWED_AGENT = "test-agent"
# As WEBHOOK_SERVER_ENV in lib/webhooks.mjs: no webhook case may call (or reach) LiveKit's API.
WEBHOOK_SERVER_ENV = {"RECORDING_LIMIT_NOTICE": "false", "SIP_TRUNK_ID": "", "LIVEKIT_API_URL": "http://127.0.0.1:9"}
PARTIES = ("livekit-server-sdk", "livekit-api", "receiver")
PARTY = "livekit-api"  # this suite's column in cases/webhooks.json
WEBHOOK_CLIENT = "livekit-api (PyPI) WebhookReceiver"
SERVER_LOG: list[str] = []  # the local server's output lines


@pytest.fixture(scope="module")
def server_url():
    bin_path = Path(os.environ.get("LOCAL_SERVER_BIN", HERE / "../../target/debug/local-server")).resolve()
    if not bin_path.exists():
        pytest.fail(f"local server binary not found at {bin_path}: cargo build -p local-server, or set LOCAL_SERVER_BIN")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": "0",
        "NO_COLOR": "1",
        "ALLOWED_AGENT_NAMES": ALLOWED_AGENT,
        "LIVEKIT_API_KEY": API_KEY,
        "LIVEKIT_API_SECRET": API_SECRET,
        "LIVEKIT_URL": LIVEKIT_URL,
        **WEBHOOK_SERVER_ENV,
    }
    proc = subprocess.Popen([str(bin_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = threading.Event()
    url: list[str] = []
    lines: list[str] = []

    def drain():  # keep reading so the server never blocks on a full pipe
        for line in proc.stdout:
            lines.append(line)
            SERVER_LOG.append(line)
            m = re.search(r"local server listening on (http://127\.0\.0\.1:\d+)", line)
            if m and not found.is_set():
                url.append(m.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    found.wait(15)
    if not url:
        proc.kill()
        pytest.fail("local server did not report its port:\n" + "".join(lines))
    yield url[0]
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def send(base: str, request: dict) -> tuple[int, object]:
    url = base + request["path"]
    if request.get("query"):
        url += "?" + urllib.parse.urlencode(request["query"])
    data = None
    headers = {}
    if request["method"] == "POST":
        headers["content-type"] = "application/json"
        raw = request["body_raw"] if "body_raw" in request else json.dumps(request["body"])
        data = raw.encode("utf-8")
    req = urllib.request.Request(url, data=data, headers=headers, method=request["method"])
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def reply_parts(shape: str, body: dict) -> tuple[str, str, str]:
    keys = ("url", "token", "room") if shape == "get" else ("server_url", "participant_token", "room_name")
    for k in keys:
        assert isinstance(body.get(k), str), f"reply lacks string {k!r}: {body}"
    return body[keys[0]], body[keys[1]], body[keys[2]]


def matches(actual, want) -> bool:
    if isinstance(want, dict) and "prefix" in want:
        return isinstance(actual, str) and actual.startswith(want["prefix"])
    return actual == want


def claim_problems(claims, expect: dict) -> list[str]:
    """The rules of lib/expect.mjs, for livekit-api's Claims dataclass."""
    problems = []

    def eq(label, actual, want):
        if want is None:
            if actual not in (None, "", {}, []):
                problems.append(f"{label}: expected absent, got {actual!r}")
        elif not matches(actual, want):
            problems.append(f"{label}: expected {want!r}, got {actual!r}")

    eq("room", claims.video.room, expect["room"])
    eq("identity", claims.identity, expect["identity"])
    eq("name", claims.name, expect["name"])
    eq("metadata", claims.metadata, expect["metadata"])
    eq("attributes", claims.attributes or None, expect["attributes"])
    agents = []
    if claims.room_config is not None:
        for a in claims.room_config.agents:
            entry = {"agent_name": a.agent_name}
            if a.metadata:
                entry["metadata"] = a.metadata
            if getattr(a, "deployment", ""):
                entry["deployment"] = a.deployment
            agents.append(entry)
    eq("room_config.agents", agents or None, expect["agents"])
    for camel in COMMON["grants_true"]:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
        if getattr(claims.video, snake) is not True:
            problems.append(f"video.{snake} should be True")
    for camel in COMMON["grants_absent"]:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
        if getattr(claims.video, snake):
            problems.append(f"video.{snake} must not be granted")
    return problems


ISSUED: list[str] = []


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["name"], marks=pytest.mark.matrix(route=f"{c['request']['method']} {c['request']['path']}", check=f"verifies: {c['name']}"))
        for c in CORPUS["cases"]
    ],
)
def test_token_verifier_accepts(server_url, case):
    status, body = send(server_url, case["request"])
    assert status == case["expect"]["status"], body
    url, token, room = reply_parts(case["expect"]["shape"], body)
    assert url == COMMON["server_url"]
    claims = TokenVerifier(API_KEY, API_SECRET).verify(token)
    assert claim_problems(claims, case["expect"]) == []
    assert claims.video.room == room
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["exp"] - raw["nbf"] == COMMON["ttl_seconds"]
    ISSUED.append(token)


@pytest.mark.matrix(route="GET + POST /token", check="rejects every issued token under a wrong secret or key (the verifier is not vacuous)")
def test_token_verifier_rejects_wrong_credentials():
    assert ISSUED, "runs after the acceptance tests"
    for token in ISSUED:
        with pytest.raises(Exception):
            TokenVerifier(API_KEY, API_SECRET + "x").verify(token)
        with pytest.raises(Exception):
            TokenVerifier("APIother", API_SECRET).verify(token)


def body_of(case: dict) -> str:
    if "body_raw" in case:
        return case["body_raw"]
    body = json.loads(json.dumps(case["body"]))
    if case.get("pad_room_metadata"):
        body["room"] = {**body["room"], "metadata": "x" * case["pad_room_metadata"]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def build_delivery(case: dict, now: int | None = None) -> tuple[str, str | None]:
    """lib/webhooks.mjs's builder: (body, Authorization value or None), signed now."""
    now = int(time.time()) if now is None else now
    body = body_of(case)
    sign = case.get("sign", {})
    sha256_of = sign.get("sha256_of", "body")
    signed_body = sign["signed_body_raw"] if sha256_of == "other" else body
    claims = {
        "iss": "APIsomeoneelse" if sign.get("key") == "wrong" else API_KEY,
        "nbf": now + sign.get("nbf_offset", 0),
        "exp": now + sign.get("exp_offset", 300),
    }
    if sha256_of != "none":
        claims["sha256"] = base64.b64encode(hashlib.sha256(signed_body.encode("utf-8")).digest()).decode()
    secret = API_SECRET + "-wrong" if sign.get("secret") == "wrong" else API_SECRET
    alg = sign.get("alg", "HS256")
    token = jwt.encode(claims, None if alg == "none" else secret, algorithm=alg)
    auth = {"raw": token, "bearer": f"Bearer {token}", "none": None}[case.get("authorization", "raw")]
    return body, auth


def expected_replies(case: dict) -> list[str]:
    replies = case["receiver_reply"] if isinstance(case["receiver_reply"], list) else [case["receiver_reply"]]
    assert len(replies) == case.get("deliveries", 1), f"{case['name']}: one receiver_reply per delivery"
    return replies


def verdict_of_status(status: int) -> str:
    """accept = 2xx, reject = 4xx; anything else fails every comparison."""
    if 200 <= status < 300:
        return "accept"
    if 400 <= status < 500:
        return "reject"
    return f"error ({status})"


def deliver(base: str, body: str, auth: str | None) -> tuple[str, str]:
    """POSTs one delivery as LiveKit does; returns (our reply "<status> <status|code>", verdict)."""
    headers = {"content-type": "application/webhook+json", "user-agent": "LiveKit"}
    if auth is not None:
        headers["authorization"] = auth
    req = urllib.request.Request(base + "/webhook", data=body.encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8", "replace")
    try:
        reply = json.loads(text)
        detail = reply.get("status") or (reply.get("error") or {}).get("code")
    except (ValueError, AttributeError):
        detail = text[:80]
    return f"{status} {detail}", verdict_of_status(status)


def sdk_verdict(body: str, auth: str | None) -> str:
    try:
        event = WebhookReceiver(TokenVerifier(API_KEY, API_SECRET)).receive(body, auth)
    except Exception:
        return "reject"
    assert event.id == json.loads(body)["id"], "the SDK returned the delivered event"
    return "accept"


def webhook_check(case: dict) -> str:
    """The matrix's check text (same wording as webhookCheck in lib/webhooks.mjs)."""
    ours, theirs = case["verdicts"]["receiver"], case["verdicts"][PARTY]
    replies = ", then ".join(expected_replies(case))
    if ours == theirs:
        return f"same verdict ({ours}; we answer {replies}): {case['name']}"
    return f"differs by design: SDK {theirs}s, we {ours} ({replies}): {case['name']}. Why: {case.get('why_different') or '(missing in the corpus)'}"


def test_webhook_corpus_bookkeeping():
    """A verdict per party, a reason exactly where they differ (corpusProblems in lib/webhooks.mjs)."""
    problems = []
    names = [c["name"] for c in WEBHOOKS["cases"]]
    assert len(names) == len(set(names)), "case names are unique"
    for c in WEBHOOKS["cases"]:
        verdicts = [c.get("verdicts", {}).get(p) for p in PARTIES]
        if any(v not in ("accept", "reject") for v in verdicts):
            problems.append(f"{c['name']}: a verdict per party, accept or reject")
        same = len(set(verdicts)) == 1
        if same and c.get("why_different"):
            problems.append(f"{c['name']}: why_different given but every verdict is the same")
        if not same and not str(c.get("why_different", "")).strip():
            problems.append(f"{c['name']}: verdicts differ, why_different missing")
        for r in expected_replies(c):
            if verdict_of_status(int(r.split(" ")[0])) != c["verdicts"]["receiver"]:
                problems.append(f"{c['name']}: receiver_reply {r} is not a {c['verdicts']['receiver']}")
    assert problems == []


DELIVERED: list[str] = []


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c["name"], marks=pytest.mark.matrix(client=WEBHOOK_CLIENT, route="POST /webhook", check=webhook_check(c)))
        for c in WEBHOOKS["cases"]
    ],
)
def test_webhook_verdict(server_url, case):
    body, auth = build_delivery(case)
    theirs = sdk_verdict(body, auth)
    assert theirs == case["verdicts"][PARTY], "livekit-api WebhookReceiver verdict (corpus verdicts.livekit-api)"
    for want in expected_replies(case):  # a redelivery is the very same request again
        reply, ours = deliver(server_url, body, auth)
        DELIVERED.append(case["name"])
        assert reply == want, "our reply (corpus receiver_reply)"
        assert ours == case["verdicts"]["receiver"], "our verdict (corpus verdicts.receiver)"
        if not case.get("why_different"):
            assert ours == theirs, "we and livekit-api differ, and the corpus gives no why_different"


TOTAL_DELIVERIES = sum(len(expected_replies(c)) for c in WEBHOOKS["cases"])


@pytest.mark.matrix(
    client=WEBHOOK_CLIENT,
    route="POST /webhook",
    check=f"all {TOTAL_DELIVERIES} deliveries of {len(WEBHOOKS['cases'])} cases reached POST /webhook (counted in the server's request log)",
)
def test_every_webhook_delivery_reached_the_receiver(server_url):
    assert len(DELIVERED) == TOTAL_DELIVERIES, "deliveries sent by this suite (runs after test_webhook_verdict)"
    pattern = re.compile(r'method=POST route="/webhook" status=\d+')
    seen = 0
    for _ in range(50):
        seen = sum(1 for line in list(SERVER_LOG) if pattern.search(line))
        if seen >= TOTAL_DELIVERIES:
            break
        time.sleep(0.02)
    assert seen == TOTAL_DELIVERIES, "POST /webhook lines in the server log"
