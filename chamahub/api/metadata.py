"""OPTIONS responses: the view's name, description and media types — no per-object permission probing."""

from rest_framework.metadata import SimpleMetadata


class MinimalMetadata(SimpleMetadata):
    """
    DRF's SimpleMetadata also describes the writable fields of PUT/POST, and for that calls
    `get_object()` — which fails on routes without an id (e.g. /users/me/) and would reveal whether an
    object exists. The OpenAPI schema at /api/schema/ is the description of every request body.
    """

    def determine_metadata(self, request, view):
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        return metadata

    def determine_actions(self, request, view):
        return {}
