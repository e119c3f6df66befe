"""What a call did, kept on its APICall node: request, response, error, agent. Pure.

Nested values (requestParameters, responseElements, resources, additionalEventData) are stored as
compact JSON strings, because neither Neo4j nor the embedded store keeps maps as properties: Browser
shows them as text, `trace --format json` turns them back into objects. Secrets never get this far:
session tokens, secret keys, passwords and private keys are replaced by `STRIPPED` at any depth, and
session tokens are also caught by their shape wherever they appear.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

STRIPPED = "[stripped by trailgraph]"
MAX_JSON = 16_384
"""Characters kept of each JSON field: a policy document or a large batch request is cut there (and the
cut marked), so one forged or bulky record cannot grow the store without bound."""

JSON_FIELDS = ("requestParameters", "responseElements", "resources", "additionalEventData")
TEXT_FIELDS = ("errorMessage",)

_SECRET_KEY = re.compile(
    r"(?i)^(session_?token|secret_?access_?key|secret(string|binary|key)?|client_?secret|"
    r"(new|old|admin|master|db|user)?_?password(data)?|private_?key(material)?|key_?material|plaintext|"
    r"credentials?_?secret|auth_?token|access_?token|refresh_?token|id_?token|saml_?assertion|"
    r"samlresponse|webidentitytoken)$"
)
_TOKEN_PREFIXES = ("FQoG", "FwoG", "IQoJ", "IQoD", "AQoD", "AgoJ")
"""STS session tokens start like this; a value this long with such a start is a token wherever it is."""


def _is_token(value: str) -> bool:
    return len(value) >= 100 and value.startswith(_TOKEN_PREFIXES)


def scrub(value: Any) -> Any:
    """The value with every secret replaced by `STRIPPED` (a new structure; the record is not changed)."""
    if isinstance(value, dict):
        return {
            k: STRIPPED if isinstance(k, str) and _SECRET_KEY.match(k) and v not in (None, "") else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str) and _is_token(value):
        return STRIPPED
    return value


def _json(value: Any) -> str | None:
    if value is None or value == {} or value == []:
        return None
    try:
        text = orjson.dumps(scrub(value), option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None
    return text if len(text) <= MAX_JSON else f"{text[:MAX_JSON]}…[cut by trailgraph: {len(text):,} chars]"


def detail_props(record: dict[str, Any]) -> dict[str, Any]:
    """The record's request, response, error and context as APICall properties (absent ones left out)."""
    props: dict[str, Any] = {name: _json(record.get(name)) for name in JSON_FIELDS}
    message = record.get("errorMessage")
    if isinstance(message, str) and message:
        props["errorMessage"] = scrub(message)[:MAX_JSON]
    return {k: v for k, v in props.items() if v is not None}


def decode(call: dict[str, Any]) -> dict[str, Any]:
    """The stored detail fields of a call node, JSON ones as objects again (a cut one stays text)."""
    out: dict[str, Any] = {}
    for name in JSON_FIELDS:
        text = call.get(name)
        if isinstance(text, str):
            try:
                out[name] = orjson.loads(text)
            except orjson.JSONDecodeError:
                out[name] = text
        else:
            out[name] = None
    return out
