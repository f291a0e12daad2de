"""The OpenAPI document (valid, complete) and Swagger UI served offline."""

from __future__ import annotations

import re

import pytest

from .api_helpers import assert_error

CONTRACT = {
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("post", "/predict"),
    ("get", "/history"),
    ("get", "/ecg/{file_id}"),
    ("put", "/ecg/{file_id}/notes"),
    ("delete", "/ecg/{file_id}"),
    ("get", "/ecg/{file_id}/leads"),
    ("get", "/ecg/{file_id}/plot.png"),
    ("get", "/ecg/{file_id}/report.pdf"),
    ("get", "/ecg/{file_id}/fhir"),
    ("get", "/ecg/{file_id}/dicom"),
    ("get", "/ecg/{file_id}/measurements.csv"),
    ("get", "/history/export.csv"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/live"),
}


@pytest.fixture
def spec(client):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json


def test_spec_is_valid_openapi(spec):
    from openapi_spec_validator import validate

    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_spec_documents_every_route_of_the_contract(app, spec):
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert CONTRACT <= documented
    # ... and nothing served is missing from it (besides the docs themselves and the web
    # app's pages, which are HTML for people, not API operations).
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(("/docs", "/openapi.json")):
            continue
        if rule.endpoint.startswith("web."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served <= documented


def test_protected_routes_declare_bearer_auth_and_error_shape(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/auth/") and path.split("/")[-1] in ("login", "register"):
                continue
            if path in ("/health", "/ready", "/live"):
                continue
            assert op.get("security"), (method, path)
            assert "401" in op["responses"], (method, path)
    predict = spec["paths"]["/predict"]["post"]
    assert "multipart/form-data" in predict["requestBody"]["content"]
    assert "X-Total-Count" in spec["paths"]["/history"]["get"]["responses"]["200"]["headers"]
    error = spec["paths"]["/auth/register"]["post"]["responses"]["400"]
    schema = error["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"error", "code", "details"}


def test_swagger_ui_is_served_without_any_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/docs/assets/") for u in urls), urls
    assert "cdn" not in html.lower()
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.data) > 100, url
    assert "'self'" in page.headers["Content-Security-Policy"]


def test_unknown_route_and_method_use_the_error_shape(client):
    assert_error(client.get("/no/such/thing"), 404, "not_found")
    assert_error(client.delete("/history"), 405, "method_not_allowed")


def test_security_headers(client):
    resp = client.get("/live")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"


def test_cors_only_for_configured_origins(make_app):

    client = make_app(cors_origins=("https://app.example.org",)).test_client()
    ok = client.get("/live", headers={"Origin": "https://app.example.org"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "X-Total-Count" in ok.headers["Access-Control-Expose-Headers"]
    evil = client.get("/live", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in evil.headers
