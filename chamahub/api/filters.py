"""
Filter backends that apply to collections only.

DRF runs every filter backend in `get_object()` too; building a FilterSet, a search and an ordering
for a single-object route costs about a millisecond and changes nothing (the lookup is by id), so
detail routes and their actions skip them.
"""

from __future__ import annotations

import copy

import django_filters
from django import forms
from django.http import QueryDict
from django_filters.filterset import BaseFilterSet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter, SearchFilter


def _is_detail(view) -> bool:
    kwargs = getattr(view, "kwargs", None) or {}
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
    return lookup in kwargs


_form_class_caching: dict[type, type] = {}


def _with_cached_form_class(filterset_class: type) -> type:
    """
    A subclass of `filterset_class` that builds its form class once, not on every request (django-filter
    rebuilds it per instance, about half a millisecond). Form instances still deep-copy their fields,
    so sharing the class is as safe as an ordinary Django form class.
    """
    cached = _form_class_caching.get(filterset_class)
    if cached is None:

        def get_form_class(self, _base=filterset_class):
            form_class = type(self).__dict__.get("_form_class")
            if form_class is None:
                form_class = _base.get_form_class(self)
                type(self)._form_class = form_class
            return form_class

        def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
            # BaseFilterSet.__init__ deep-copies every filter (widgets, extra dicts) per request; a shallow
            # copy of each filter is enough, since only `model` and `parent` are set on the copies.
            if queryset is None:
                queryset = self._meta.model._default_manager.all()
            self.is_bound = data is not None
            self.data = data or QueryDict()
            self.queryset = queryset
            self.request = request
            self.form_prefix = prefix
            self.filters = {name: copy.copy(f) for name, f in self.base_filters.items()}
            for filter_ in self.filters.values():
                filter_.model = queryset.model
                filter_.parent = self
                if getattr(filter_, "_method", None) is not None:
                    filter_.method = filter_._method  # rebind the FilterMethod to this copy

        overrides = {"get_form_class": get_form_class}
        if filterset_class.__init__ is BaseFilterSet.__init__:  # never bypass a FilterSet's own __init__
            overrides["__init__"] = __init__
        cached = type(filterset_class.__name__, (filterset_class,), overrides)
        _form_class_caching[filterset_class] = cached
    return cached


class CollectionFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        return queryset if _is_detail(view) else super().filter_queryset(request, queryset, view)

    def get_filterset_class(self, view, queryset=None):
        filterset_class = super().get_filterset_class(view, queryset)
        return None if filterset_class is None else _with_cached_form_class(filterset_class)


class CollectionSearchFilter(SearchFilter):
    def filter_queryset(self, request, queryset, view):
        return queryset if _is_detail(view) else super().filter_queryset(request, queryset, view)


class CollectionOrderingFilter(OrderingFilter):
    def filter_queryset(self, request, queryset, view):
        return queryset if _is_detail(view) else super().filter_queryset(request, queryset, view)


class IdFilter(django_filters.NumberFilter):
    """
    A filter on a row id: a whole number 1..2^63-1, so `?group=1.5` or `?group=1e300` is a 400 on the parameter, not
    a silent match of group 1 or an integer overflow in the database driver. Documented as an integer.
    """

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)
