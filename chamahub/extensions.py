"""
Providers: how a lower layer asks a higher one for figures without importing it.

groups (L2) shows a goal's progress and a group dashboard, but the money lives in finance (L4)
and investments (L5). Those apps register providers at startup:

    # finance/providers.py
    @extensions.provides("group.savings_total")
    def savings_total(*, group_ids): ...

and groups calls `extensions.call("group.savings_total", group_ids=[...], default={})`.
A provider name has one implementation; `call` returns `default` when nobody provides it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_providers: dict[str, Callable[..., Any]] = {}


def provides(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _providers[name] = func
        return func

    return decorator


def call(name: str, *args: Any, default: Any = None, **kwargs: Any) -> Any:
    func = _providers.get(name)
    return default if func is None else func(*args, **kwargs)


def registered() -> list[str]:
    return sorted(_providers)
