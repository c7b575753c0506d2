"""superjson envelopes, for clients whose links set `transformer: superjson`.

Such a client sends every input as `{"json": <value>, "meta"?: {"values": ..., "v": 1}}` (an
undefined input too: `{"json": null, "meta": {"values": ["undefined"]}}`) and reads every
result and error through `superjson.deserialize`, so the server must answer
`{"result": {"data": {"json": X}}}` and `{"error": {"json": <shape>}}`.

Detection is per request: the request is a superjson one when one of its inputs is such an
envelope (an object whose keys are `json` and/or `meta`, `meta` an object). The price: a plain
client cannot send an input that is exactly `{"json": ...}`; no Sockless procedure takes one.

Inputs: `meta.values` annotations are applied where they change what pydantic sees —
`undefined` removes the key (None inside arrays, or for the whole input), `bigint` becomes an
int, `map` (an array of pairs) becomes an object, `set` stays a list. `Date` stays its ISO-8601
string, which pydantic parses into a datetime. Outputs are sent without `meta`: the data is
what the JSON Schema (and the generated TypeScript types) say, e.g. datetimes as ISO strings.
"""

from __future__ import annotations

import sys
from typing import Any

_REMOVE = object()


def is_envelope(value: Any) -> bool:
    if not isinstance(value, dict) or not value or not set(value) <= {"json", "meta"}:
        return False
    meta = value.get("meta")
    return meta is None or isinstance(meta, dict)


def deserialize(envelope: dict[str, Any]) -> Any:
    """The input inside an envelope, with the annotations that matter applied."""
    value = envelope.get("json")
    meta = envelope.get("meta")
    annotations = meta.get("values") if isinstance(meta, dict) else None
    if isinstance(annotations, list):  # the whole value is annotated
        converted = _convert(value, annotations)
        return None if converted is _REMOVE else converted
    if not isinstance(annotations, dict):
        return value
    # Deepest paths first, so a parent's conversion (map -> object) cannot hide a child.
    for path in sorted(annotations, key=lambda p: len(_split(p)), reverse=True):
        annotation = annotations[path]
        if isinstance(annotation, list):
            value = _apply(value, _split(path), annotation)
    return value


def wrap(data: Any) -> dict[str, Any]:
    return {"json": data}


def _split(path: str) -> list[str]:
    """superjson paths: dot-separated, a literal dot escaped as `\\.`."""
    parts, current, escaped = [], "", False
    for char in path:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _apply(root: Any, path: list[str], annotation: list[Any]) -> Any:
    parent, key = None, None
    node = root
    for part in path:
        parent, key = node, part
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and _index(part) < len(node):
            node = node[_index(part)]
        else:
            return root  # a path we do not understand: leave the value as sent
    converted = _convert(node, annotation)
    if parent is None:
        return None if converted is _REMOVE else converted
    if isinstance(parent, dict) and isinstance(key, str):
        if converted is _REMOVE:
            parent.pop(key, None)
        else:
            parent[key] = converted
    elif isinstance(parent, list) and isinstance(key, str):
        parent[_index(key)] = None if converted is _REMOVE else converted
    return root


def _index(part: str) -> int:
    """A list index in a path (ASCII digits: `str.isdigit` also accepts "²"), else a number
    past any list's end."""
    return int(part) if part.isascii() and part.isdigit() and len(part) < 19 else sys.maxsize


def _convert(value: Any, annotation: list[Any]) -> Any:
    kind = annotation[0] if annotation else None
    if kind == "undefined":
        return _REMOVE
    if kind == "bigint" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "map" and isinstance(value, list):
        pairs = [p for p in value if isinstance(p, list) and len(p) == 2]
        if len(pairs) == len(value) and all(isinstance(k, str) for k, _ in pairs):
            return dict(pairs)
    return value
