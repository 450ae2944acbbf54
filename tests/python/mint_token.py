"""Mints a participant token with LiveKit's official Python SDK (PyPI livekit-api), so the
Rust side is checked against another real issuer.

stdin:  {"apiKey", "apiSecret", "identity", "room", "name"?, "ttlSeconds"?}
stdout: {"token": "..."}
"""
import datetime
import json
import sys

from livekit import api

request = json.load(sys.stdin)
token = (
    api.AccessToken(request["apiKey"], request["apiSecret"])
    .with_identity(request["identity"])
    .with_name(request.get("name", ""))
    .with_grants(api.VideoGrants(room_join=True, room=request["room"]))
)
if "ttlSeconds" in request:
    token = token.with_ttl(datetime.timedelta(seconds=request["ttlSeconds"]))
json.dump({"token": token.to_jwt()}, sys.stdout)
