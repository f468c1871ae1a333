"""OpenAPI 3 schema: valid, warning-free, and browsable with no internet (sidecar static files)."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert any(path.startswith("/api/v1/") for path in schema["paths"])
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "fields"}
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            default = operation["responses"]["default"]
            assert default["content"]["application/json"]["schema"] == error_ref, (method, path)


@pytest.mark.django_db
def test_the_schema_endpoint_answers_without_a_token(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "ChamaHub API"


def _external_references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)


def _local_static_references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']/static/([^"']+)""", html)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_everything_from_local_static_files(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert _external_references(html) == []
    local = _local_static_references(html)
    assert any(path.endswith(".js") for path in local)
    for path in local:
        assert finders.find(path), f"{path} is not a static file of the project"
