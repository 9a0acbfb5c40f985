"""Parsing of ``NAME`` / ``NAME:key=value[:key=value...]`` specs against a registry of
classes that carry a frozen ``Params`` dataclass (allocators and frontends alike)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


class ConfigParams:
    """Mixin for the frozen parameter dataclasses of allocators, frontends and codecs:
    a JSON round trip and the list of non-default values (for normalised specs)."""

    def to_config(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**dict(config))

    def non_defaults(self) -> dict[str, Any]:
        """The fields whose value differs from the default, in field order."""
        default = type(self)()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) != getattr(default, f.name)
        }


class SpecError(ValueError):
    """A spec names an unknown entry or a bad parameter; the message is one user-facing line."""


def parse_value(text: str, default: Any) -> Any:
    """Convert ``text`` to the type of the parameter's ``default``."""
    if isinstance(default, bool):
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if isinstance(default, int):
        return int(text, 0)
    if isinstance(default, float):
        return float(text)
    if default is None:
        try:
            return int(text, 0)
        except ValueError:
            return text
    return text


def split_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"zsmalloc:chain_size=4"`` -> ``("zsmalloc", {"chain_size": "4"})``."""
    name, *parts = spec.strip().split(":")
    kv: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"bad parameter {part!r} in {spec!r}: expected key=value")
        kv[key.strip()] = value.strip()
    return name.strip(), kv


def lookup(registry: Mapping[str, T], name: str, what: str) -> T:
    try:
        return registry[name]
    except KeyError:
        raise SpecError(f"unknown {what} {name!r}; known: {', '.join(sorted(registry))}") from None


def build_params(params_cls: type, name: str, overrides: Mapping[str, str], base: Any = None) -> Any:
    """Instance of ``params_cls`` from string ``overrides`` applied on top of ``base``
    (defaults when ``base`` is None)."""
    base = params_cls() if base is None else base
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    values: dict[str, Any] = {}
    for key, text in overrides.items():
        if key not in fields:
            raise SpecError(f"{name}: unknown parameter {key!r}; known: {', '.join(fields)}")
        try:
            values[key] = parse_value(text, getattr(base, key))
        except ValueError as exc:
            raise SpecError(f"{name}: bad value for {key}: {exc}") from None
    try:
        return dataclasses.replace(base, **values)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{name}: {exc}") from None
