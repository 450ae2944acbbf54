"""PyPI livekit-api as the judge: its TokenVerifier must accept every token form the
token generator issues (cases/tokens.json, the corpus sdk.test.mjs uses too), with the
claims each case asks for. The local server runs as a subprocess on a free port.

Webhooks: cases/webhooks.json is checked against livekit.api.WebhookReceiver now (the
corpus's verdicts are LiveKit's); once the webhook receiver exists, each delivery also goes
to its route and must get the same verdict (the skipped test at the end).

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
    }
    proc = subprocess.Popen([str(bin_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = threading.Event()
    url: list[str] = []
    lines: list[str] = []

    def drain():  # keep reading so the server never blocks on a full pipe
        for line in proc.stdout:
            lines.append(line)
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


def build_delivery(case: dict, now: int | None = None) -> tuple[str, str | None]:
    """lib/webhooks.mjs's builder: (body, Authorization value or None), signed now."""
    now = int(time.time()) if now is None else now
    body = case["body_raw"] if "body_raw" in case else json.dumps(case["body"], separators=(",", ":"), ensure_ascii=False)
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


@pytest.mark.parametrize("case", WEBHOOKS["cases"], ids=[c["name"] for c in WEBHOOKS["cases"]])
def test_webhook_corpus_verdict(case):
    """The corpus itself, judged by LiveKit's WebhookReceiver (no matrix row: no route of ours yet)."""
    body, auth = build_delivery(case)
    receiver = WebhookReceiver(TokenVerifier(API_KEY, API_SECRET))
    try:
        event = receiver.receive(body, auth)
        verdict = "accept"
        assert event.id == json.loads(body)["id"]
    except AssertionError:
        raise
    except Exception:
        verdict = "reject"
    assert verdict == case["sdk_verdict"]


@pytest.mark.skip(reason="webhook receiver not written yet: POST each build_delivery() to its route, compare with sdk_verdict")
def test_webhook_receiver_matches_sdk_verdicts():
    pass
