"""
Fast read serializers for hot endpoints.

DRF's generic `Serializer.to_representation` walks every field through `get_attribute`, which calls
`inspect.signature` on callables and checks many cases per value; on a 20-row page it costs several
milliseconds. `FastReadSerializer` keeps the declared fields (so the OpenAPI schema and field names are
exactly the same) but renders each object through a plan compiled once per class: for each field its
attribute path and the cheapest correct converter. Only plain read-only fields are planned; anything
else (nested serializers, SerializerMethodField, custom fields) falls back to the field's own
`to_representation`, so the output is identical to DRF's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

_SIMPLE = (serializers.CharField, serializers.IntegerField, serializers.BooleanField, serializers.ChoiceField)


def _getter(source_attrs: list[str]) -> Callable[[Any], Any]:
    if len(source_attrs) == 1:
        name = source_attrs[0]
        return lambda obj: getattr(obj, name)

    def walk(obj):
        for attr in source_attrs:
            if obj is None:
                return None
            obj = getattr(obj, attr)
        return obj

    return walk


def _is_plain_iso_datetime(field) -> bool:
    fmt = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return (
        type(field) is serializers.DateTimeField
        and not hasattr(field, "timezone")
        and isinstance(fmt, str)
        and fmt.lower() == ISO_8601
        and settings.USE_TZ
    )


def _iso_datetime(value, tz=None):
    """DRF's DateTimeField.to_representation for an aware datetime, without its per-value overhead."""
    if isinstance(value, str):
        return value
    if timezone.is_aware(value):
        value = value.astimezone(tz or timezone.get_current_timezone())
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class FastReadSerializer(serializers.Serializer):
    """A read-only serializer with a compiled rendering plan. Declare fields as usual."""

    def _plan(self) -> list[tuple[str, Callable[[Any], Any], Callable[[Any], Any] | None, Any]]:
        cls = type(self)
        plan = cls.__dict__.get("_fast_plan")
        if plan is None:
            plan = []
            for name, field in self.fields.items():
                if field.write_only:
                    continue
                get = _getter(field.source_attrs) if field.source != "*" else (lambda obj: obj)
                if isinstance(field, serializers.SerializerMethodField):
                    plan.append((name, None, None, field.method_name))
                    continue
                if isinstance(field, _SIMPLE):
                    convert = None
                elif _is_plain_iso_datetime(field):
                    convert = _iso_datetime
                else:
                    convert = field.to_representation
                plan.append((name, get, convert, field))
            cls._fast_plan = plan
        return plan

    def to_representation(self, instance) -> dict[str, Any]:
        out: dict[str, Any] = {}
        tz = timezone.get_current_timezone()
        for name, get, convert, extra in self._plan():
            if get is None:  # SerializerMethodField: call it on this serializer (it may read self.context)
                out[name] = getattr(self, extra)(instance)
                continue
            try:
                value = get(instance)
            except ObjectDoesNotExist:  # a missing reverse one-to-one, as DRF treats it
                value = None
            if callable(value) and not isinstance(value, (date, datetime, Decimal)):
                value = value()
            if value is None:
                out[name] = None
            elif convert is None:
                out[name] = value
            elif convert is _iso_datetime:
                out[name] = _iso_datetime(value, tz)
            else:
                out[name] = convert(value)
        return out

    def run_validation(self, data=empty):  # pragma: no cover - read-only by design
        raise TypeError(f"{type(self).__name__} is read-only")


def validated(serializer_class, data, **context) -> dict:
    """Validate request data with an input serializer (400 with field messages otherwise); return a plain dict."""
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
