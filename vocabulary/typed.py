"""How a typed effect or command meets the JSON payload it travels in: fields in wire order,
required fields named when missing, and a key that is not on the wire told apart from `null`.

`vocabulary.effects` and `vocabulary.commands` declare one frozen dataclass per kind on top of
`Payload`; the topics keep carrying the same dicts, byte for byte.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any, ClassVar, Final, TypeVar

P = TypeVar("P", bound="Payload")


class _Absent:
    """The value of a field whose key is not on the wire (unlike `None`, which is `null`)."""

    _instance: ClassVar[_Absent | None] = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
Absent = _Absent


def present(value: Any, default: Any = None) -> Any:
    """`value`, or `default` when its key was not on the wire."""
    return default if value is ABSENT else value


class MalformedPayload(ValueError):
    """A payload that cannot be the message its kind names; the message names the field."""

    def __init__(self, kind: str, field_name: str, problem: str = "missing") -> None:
        self.kind, self.field, self.problem = kind, field_name, problem
        if problem == "missing":
            text = f"{kind}: the payload has no {field_name!r} / {kind} の payload に {field_name} がありません"
        else:
            text = f"{kind}: {field_name!r} {problem} / {kind} の {field_name} が不正です"
        super().__init__(text)


class UnknownKind(MalformedPayload):
    """An effect kind or a command action no class is declared for."""

    def __init__(self, what: str, name: str) -> None:
        ValueError.__init__(self, f"unknown {what} {name!r}")
        self.kind, self.field, self.problem = name, what, "unknown"


def on_wire(name: str, *, default: Any = MISSING) -> Any:
    """A field whose key on the wire is `name` (a payload's own `kind`, say)."""
    return field(default=default, metadata={"wire": name})


def readable(kind: str, *, default: Any = MISSING) -> Any:
    """A text a person reads: a drill labels it (`kind` "text": one string; "texts": lang → text)."""
    return field(default=default, metadata={"label": kind})


#: What each word of a field's annotation admits from JSON (the annotations are strings here).
_ADMITS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
    "Absent": lambda v: False,  # never on the wire: it is the key's absence
    "JsonObject": lambda v: isinstance(v, Mapping),
    "Mapping": lambda v: isinstance(v, Mapping),
    "Sequence": lambda v: isinstance(v, (list, tuple)),
}


@functools.lru_cache(maxsize=None)
def admits(annotation: str) -> Callable[[Any], bool]:
    """The check for a field annotated `annotation` ("str | None | Absent", "Mapping[str, str]")."""
    words = [part.strip().split("[", 1)[0] for part in annotation.split("|")]
    unknown = [w for w in words if w not in _ADMITS]
    if unknown:
        raise TypeError(f"no JSON check for {unknown} in {annotation!r}")
    checks = [_ADMITS[w] for w in words]
    return lambda value: any(check(value) for check in checks)


def _fits(value: Any, annotation: str) -> bool:
    return admits(annotation)(value)


def _wire_name(f: Field[Any]) -> str:
    return str(f.metadata.get("wire", f.name))


def _required(f: Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


_ATOMS = (str, int, float, bool, type(None))


def json_copy(value: Any) -> Any:
    """A copy of a JSON-like tree (dicts, lists, scalars) that shares nothing mutable with it, so a
    record put on a topic cannot change with the state it was built from."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if isinstance(value, Mapping):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(json_copy(v) for v in value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Payload:
    """A message's payload as typed fields; subclasses list their fields in wire order."""

    def to_payload(self) -> dict[str, Any]:
        """The payload dict, keys in the order the producers have always written them."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not ABSENT:
                out[_wire_name(f)] = value
        return out

    @classmethod
    def wire_kind(cls) -> str:
        """What the wire calls this message (`Effect.kind`, `BoardCommand.action`)."""
        raise NotImplementedError

    @classmethod
    def from_payload(cls: type[P], payload: Mapping[str, Any]) -> P:
        """The typed message; keys it does not know (`retry_of`) are left to the envelope."""
        if not isinstance(payload, Mapping):
            raise MalformedPayload(cls.wire_kind(), "payload", "is not an object")
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = _wire_name(f)
            if key in payload:
                value = payload[key]
                if not _fits(value, str(f.type)):
                    raise MalformedPayload(cls.wire_kind(), key, f"is {type(value).__name__}, not {f.type}")
                values[f.name] = value
            elif _required(f):
                raise MalformedPayload(cls.wire_kind(), key)
        return cls(**values)

    def labelled(self: P, label: str) -> P:
        """The same message with `label` (【訓練】) before every text a person reads."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value, kind = getattr(self, f.name), f.metadata.get("label")
            if kind == "text" and isinstance(value, str):
                changes[f.name] = label + value
            elif kind == "texts" and isinstance(value, dict):
                changes[f.name] = {lang: label + text for lang, text in value.items()}
        return replace(self, **changes) if changes else self

    @classmethod
    def required_fields(cls) -> tuple[str, ...]:
        """The wire keys a payload of this kind must carry."""
        return tuple(_wire_name(f) for f in fields(cls) if _required(f))  # type: ignore[arg-type]
