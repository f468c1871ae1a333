"""The API router: object ids in URLs are integers unless a viewset says otherwise."""

from rest_framework.routers import DefaultRouter, SimpleRouter


class _DigitLookupMixin:
    """
    Detail routes match only 1 to 18 digits (`{id}` is a database id everywhere, below 2^63), so a path like
    /loans/abc/ or /loans/99999999999999999999999/ is a plain 404 instead of reaching the database with an id it
    cannot hold. Views can therefore take `int(pk)` as given. A viewset may still set its own `lookup_value_regex`.
    """

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        if getattr(viewset, "lookup_value_regex", None) is not None:
            return super().get_lookup_regex(viewset, lookup_prefix)
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        return rf"(?P<{lookup_prefix}{lookup_url_kwarg}>[0-9]{{1,18}})"


class ChamaRouter(_DigitLookupMixin, DefaultRouter):
    pass


class ChamaSimpleRouter(_DigitLookupMixin, SimpleRouter):
    pass
