"""Just enough Kubernetes protobuf to read what ``kubectl create namespace|configmap|secret`` sends.

kubectl's typed clients send request bodies as ``application/vnd.kubernetes.protobuf``: the bytes
``k8s\\x00`` then a ``runtime.Unknown`` message wrapping the object's own message. This decodes the
protobuf wire format generically and maps field numbers to names for the few kinds those
commands create; anything else is refused with 415, naming the types this emulator reads.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

# field number -> (name, kind); kinds: str, bytes, int, bool, strs (repeated string),
# map (map<string,string>), bmap (map<string,bytes>), or a nested schema name.
_SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        5: ("uid", "str"),
        6: ("resourceVersion", "str"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        14: ("finalizers", "strs"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "strs")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 4: ("automountServiceAccountToken", "bool")},
}
SUPPORTED = ("Namespace", "ConfigMap", "Secret", "ServiceAccount")


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _message(data: bytes, schema: str) -> dict[str, Any]:
    fields = _SCHEMAS[schema]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in fields:
            continue
        name, kind = fields[number]
        if kind == "str" and isinstance(value, bytes):
            if value:
                out[name] = value.decode()
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "strs" and isinstance(value, bytes):
            out.setdefault(name, []).append(value.decode())
        elif kind in ("map", "bmap") and isinstance(value, bytes):
            entry = dict(_fields(value))
            key = entry.get(1, b"")
            raw = entry.get(2, b"")
            if isinstance(key, bytes) and isinstance(raw, bytes):
                text = base64.b64encode(raw).decode() if kind == "bmap" else raw.decode()
                out.setdefault(name, {})[key.decode()] = text
        elif isinstance(value, bytes):
            out[name] = _message(value, kind)
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object, or ProtobufError."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix")
    unknown = dict(_fields(body[len(MAGIC) :]))
    type_meta = unknown.get(1, b"")
    raw = unknown.get(2, b"")
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("malformed runtime.Unknown envelope")
    meta = {number: value for number, value in _fields(type_meta)}
    api_version = meta.get(1, b"")
    kind = meta.get(2, b"")
    if not isinstance(api_version, bytes) or not isinstance(kind, bytes):
        raise ProtobufError("malformed TypeMeta")
    kind_name = kind.decode()
    if kind_name not in SUPPORTED:
        raise ProtobufError(
            f"the emulator reads protobuf bodies only for {', '.join(SUPPORTED)}, not "
            f"{kind_name}: send JSON"
        )
    obj = _message(raw, kind_name)
    return {"apiVersion": api_version.decode(), "kind": kind_name, **obj}
