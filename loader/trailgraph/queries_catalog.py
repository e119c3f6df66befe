"""The canned queries: readable .cypher files whose header comments are their documentation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

DRAW_COLUMN = "p"
"""Each query returns its graph as column `p` for Neo4j Browser; scripts and twins use the other columns."""


@dataclass(frozen=True)
class CannedQuery:
    name: str
    purpose: str
    params: dict[str, str] = field(default_factory=dict)  # name -> description with example
    returns: str = ""
    text: str = ""
    types: dict[str, str] = field(default_factory=dict)  # name -> "string" | "integer" | "boolean"
    required: frozenset[str] = frozenset()


_HEADER = re.compile(r"^//\s?(\w[\w ]*?):\s?(.*)$")
_EXAMPLE_PARAM = re.compile(r":param\s+(\w+)\s*=>\s*(.+?)\s*$", re.MULTILINE)


def _type_of(example: str) -> str:
    """A parameter's type, from the literal its header example gives it (`:param minHops => 1`).

    Only a literal says more than "string": a null example, or none, leaves the value as typed, so an
    account id stays "111122223333" and never becomes a number that matches nothing."""
    if example in ("true", "false"):
        return "boolean"
    if re.fullmatch(r"-?\d+", example):
        return "integer"
    return "string"


def _parse(text: str) -> CannedQuery:
    fields: dict[str, str] = {}
    params: dict[str, str] = {}
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        m = _HEADER.match(line)
        if m and not line.startswith("//   "):
            key, value = m.group(1).strip(), m.group(2).strip()
            if key.startswith("param "):
                current = ("param", key[6:].strip())
                params[current[1]] = value
            else:
                current = ("field", key)
                fields[key] = value
        elif current is not None:
            extra = line[2:].strip()
            if current[0] == "param":
                params[current[1]] += " " + extra
            else:
                fields[current[1]] += " " + extra
    examples = dict(_EXAMPLE_PARAM.findall(fields.get("example", "").replace(" :param", "\n:param")))
    return CannedQuery(
        types={p: _type_of(examples.get(p, "null")) for p in params},
        # The header says how an optional parameter reads as null; one it does not is required.
        required=frozenset(p for p, text in params.items() if "null" not in text),
        name=fields.get("name", ""),
        purpose=fields.get("purpose", ""),
        params=params,
        returns=fields.get("returns", ""),
        text=text,
    )


@cache
def catalog() -> dict[str, CannedQuery]:
    found: dict[str, CannedQuery] = {}
    for entry in files("trailgraph.queries").iterdir():
        if entry.name.endswith(".cypher"):
            query = _parse(entry.read_text(encoding="utf-8"))
            found[query.name or entry.name.removesuffix(".cypher")] = query
    return dict(sorted(found.items()))


def cypher_text(name: str) -> str:
    return catalog()[name].text
