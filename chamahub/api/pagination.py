"""
Pagination: 20 per page; ?page=N&page_size=M (M up to 100).

Counting a large result set is the most expensive part of a list page (a COUNT over 24,000
contributions costs more than fetching and rendering the page). For results of at least
COUNT_CACHE_MIN_ROWS rows the total is cached for COUNT_CACHE_SECONDS per user, path and filters:
the rows on the page are always fresh, only `count` may lag a few seconds behind new writes in a
very large group. Smaller results are always counted exactly.
"""

from __future__ import annotations

import functools
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination


class CountCachingPaginator(Paginator):
    def __init__(self, *args, count_cache_key: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_cache_key = count_cache_key

    @cached_property
    def count(self) -> int:
        key = self.count_cache_key
        if key is not None:
            cached = cache.get(key)
            if cached is not None:
                return cached
        total = super().count
        if key is not None and total >= settings.COUNT_CACHE_MIN_ROWS:
            cache.set(key, total, settings.COUNT_CACHE_SECONDS)
        return total


def count_cache_key(request) -> str | None:
    if not settings.COUNT_CACHE_SECONDS:
        return None
    params = sorted((k, v) for k, v in request.query_params.lists() if k not in ("page", "page_size", "limit"))
    raw = f"{getattr(request.user, 'pk', None)}|{request.path}|{params}"
    return "count:" + hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        self.django_paginator_class = functools.partial(CountCachingPaginator, count_cache_key=count_cache_key(request))
        return super().paginate_queryset(queryset, request, view)
