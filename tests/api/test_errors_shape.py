"""Every API answer keeps the error shape, even for URLs that match no route."""

import pytest


@pytest.mark.parametrize(
    "path", ["/api/v1/vehicles/-5/location", "/api/v1/no-such-thing", "/api/v1/shipments/x/y/z"]
)
def test_unrouted_api_urls_answer_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_unrouted_site_urls_keep_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_api_docs_page_uses_our_own_static_swagger_ui(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
