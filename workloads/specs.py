"""Spec strings of workload generators and policies: ``NAME`` or ``NAME:key=value,...``.

The separators after the name may be ``,`` or ``:`` (``churn:free=0.3,rewrite=0.2,seed=1``
== ``churn:free=0.3:rewrite=0.2:seed=1``).  A bare value sets the entry's positional
parameter (class attribute ``positional``: ``pages:random`` = ``pages:recipe=random``,
``compact-every:1000``).  Values cannot contain ``,`` or ``:``.
"""

from __future__ import annotations

from typing import Any

from allocators.spec import ConfigParams, SpecError, build_params, lookup


def parse_spec(spec: str, registry: dict[str, type], what: str) -> tuple[type, Any]:
    """``(class, Params instance)`` for ``spec`` against ``registry``; ``SpecError`` (one
    line, listing the known names) on an unknown name or a bad parameter."""
    name, sep, rest = spec.strip().partition(":")
    cls = lookup(registry, name.strip(), what)
    kv: dict[str, str] = {}
    for part in rest.replace(",", ":").split(":") if sep else []:
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq:
            if cls.positional is None:
                raise SpecError(f"bad parameter {part!r} in {spec!r}: expected key=value")
            key, value = cls.positional, part
        if key.strip() in kv:
            raise SpecError(f"parameter {key.strip()!r} given twice in {spec!r}")
        kv[key.strip()] = value.strip()
    return cls, build_params(cls.Params, name.strip(), kv)


def format_spec(name: str, params: ConfigParams, positional: str | None = None) -> str:
    """Canonical spec: ``name``, the positional parameter's value bare (when not the
    default), then the other non-default parameters as ``key=value``, ``:``-separated."""
    changed = params.non_defaults()
    parts = [str(changed.pop(positional))] if positional in changed else []
    return ":".join([name, *parts, *(f"{k}={v}" for k, v in changed.items())])
