"""OpenAPI: every operation documents the shared error body for its 4xx responses."""

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
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
        return responses
