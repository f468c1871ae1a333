"""
Filter backends that apply to collections only.

DRF runs every filter backend in `get_object()` too; building a FilterSet, a search and an ordering
for a single-object route costs about a millisecond and changes nothing (the lookup is by id), so
detail routes and their actions skip them.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter, SearchFilter


def _is_detail(view) -> bool:
    kwargs = getattr(view, "kwargs", None) or {}
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
    return lookup in kwargs


class CollectionFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        return queryset if _is_detail(view) else super().filter_queryset(request, queryset, view)


class CollectionSearchFilter(SearchFilter):
    def filter_queryset(self, request, queryset, view):
        return queryset if _is_detail(view) else super().filter_queryset(request, queryset, view)


class CollectionOrderingFilter(OrderingFilter):
    def filter_queryset(self, request, queryset, view):
        return queryset if _is_detail(view) else super().filter_queryset(request, queryset, view)
