"""OpenAPI: every operation documents the shared error body for its 4xx responses and as its default."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="Human-readable summary.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name -> messages. `non_field_errors` for errors not tied to one field.",
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `fields` names each offending field.",
    "401": "Missing, invalid or expired token.",
    "403": "Authenticated, but not allowed (e.g. not an official of this group).",
    "404": "Not found, or it belongs to a group the caller is not an active member of.",
    "409": "Conflicts with the current state (duplicate, already approved, ...).",
    "default": "Any other error (429 throttled, 5xx): the same error body.",
}


class ChamaHubAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["400", "404"] if self.method in ("POST", "PUT", "PATCH") else ["404"]
        if self.method == "GET" and not self.path.rstrip("/").endswith("}") and "{" not in self.path:
            codes = ["400"]
        codes += ["409"] if self.method in ("POST", "PUT", "PATCH", "DELETE") else []
        auth_required = bool(self.get_auth()) and not all(
            getattr(p, "__name__", type(p).__name__) == "AllowAny" for p in self.view.get_permissions()
        )
        if auth_required:
            codes += ["401", "403"]
        codes.append("default")  # anything else (429, 5xx): the same body
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return responses
