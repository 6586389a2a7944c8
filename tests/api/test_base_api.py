"""The version check, and error bodies for requests no route understands."""

import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app

from tests.support.registry import error_code


def test_version_check_answers_200_with_the_api_version(client):
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_every_response_carries_the_api_version(client):
    response = client.get("/v2/team/app/manifests/latest")
    assert response.status_code == 404
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("path", ["/v2//tags/list", "/v2/Team/tags/list", "/v2/a..b/manifests/x",
                                  "/v2/team/app%2F/blobs/sha256:" + "a" * 64])
def test_invalid_repository_names_are_name_invalid(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert error_code(response) == "NAME_INVALID"


def test_unknown_endpoint_gets_a_json_error(client):
    response = client.get("/v3/whatever")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_unsupported_method_gets_405_unsupported(client):
    response = client.request("PATCH", "/v2/team/app/manifests/latest")
    assert response.status_code == 405
    assert error_code(response) == "UNSUPPORTED"


def test_invalid_query_parameter_is_a_json_400(client):
    response = client.get("/v2/team/app/tags/list", params={"n": "many"})
    assert response.status_code == 400
    assert "errors" in response.json()


def test_storage_failure_is_a_json_500_without_internals(settings, registry, request):
    # Inject a fault into one AWS operation, through the client's events (not into our own code).
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    registry.storage.blobs.table.client.meta.events.register("before-call.dynamodb.GetItem", broken,
                                                            unique_id="broken-get-item")
    request.addfinalizer(lambda: registry.storage.blobs.table.client.meta.events.unregister(
        "before-call.dynamodb.GetItem", unique_id="broken-get-item"))
    with TestClient(create_app(settings, registry), raise_server_exceptions=False) as client:
        response = client.get("/v2/team/app/manifests/latest")
    assert response.status_code == 500
    assert response.json()["errors"][0]["code"] == "UNKNOWN"
    assert "secret" not in response.text and "Traceback" not in response.text
