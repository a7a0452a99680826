"""System routes, transport behaviour and cloud-only routes, through the
official client and raw HTTP."""

import time

import chromadb
import pytest
from chromadb.config import Settings

from conftest import C


def test_heartbeat_version_preflight(client):
    hb = client.heartbeat()
    assert abs(hb - time.time_ns()) < 10 * 10**9
    assert client.get_version() == "1.0.0"
    assert client.get_max_batch_size() == 5461


def test_raw_system_bodies(http):
    assert http.get("/api/v2/pre-flight-checks").json() == {"max_batch_size": 5461, "supports_base64_encoding": True}
    assert http.get("/api/v2/healthcheck").json() == {"is_executor_ready": True, "is_log_client_ready": True}
    assert http.get("/api/v2/auth/identity").json() == {
        "user_id": "",
        "tenant": "default_tenant",
        "databases": ["default_database"],
    }
    assert "nanosecond heartbeat" in http.get("/api/v2").json()


def test_reset_wipes_everything(client):
    client.create_collection("to-wipe")
    admin = chromadb.AdminClient(Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                          chroma_server_host=client._server._api_url.split("//")[1].split(":")[0],
                                          chroma_server_http_port=int(client._server._api_url.rsplit(":", 1)[1].split("/")[0])))
    admin.create_tenant("wiped-tenant")
    assert client.reset() is True
    assert client.list_collections() == []
    assert client.count_collections() == 0
    with pytest.raises(Exception):
        admin.get_tenant("wiped-tenant")


def test_reset_disabled_is_403(start_server):
    s = start_server("noreset")
    c = chromadb.HttpClient(host="127.0.0.1", port=s.port, settings=Settings(allow_reset=True))
    with pytest.raises(chromadb.errors.ChromaError, match="Reset is disabled by config"):
        c.reset()


def test_unknown_route_and_wrong_method(http):
    r = http.get("/api/v2/does-not-exist")
    assert r.status_code == 404 and r.content == b""
    r = http.delete("/api/v2/version")
    assert r.status_code == 405 and r.content == b""


def test_v1_is_gone(http):
    r = http.get("/api/v1/heartbeat")
    assert r.status_code == 410
    assert r.json() == {"error": "Unimplemented", "message": "The v1 API is deprecated. Please use /v2 apis"}
    assert http.post("/api/v1/collections", json={}).status_code == 405


def test_json_errors(http):
    r = http.post(C, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "InvalidArgumentError"
    assert r.json()["message"].startswith("Failed to parse the request body as JSON")
    r = http.post(C, json={"name": 7})
    assert r.status_code == 422
    assert r.json()["message"].startswith("Failed to deserialize the JSON body into the target type: name: invalid type")
    # no Content-Type at all: treated as JSON
    r = http.post(C, content=b'{"name": "no-content-type"}', headers={"content-type": ""})
    assert r.status_code == 200, r.text


def test_body_limit(start_server):
    import httpx

    s = start_server("smallbody", "--max-body-size", "2048")
    r = httpx.post(s.url + C, json={"name": "x" * 5000})
    assert r.status_code == 413


def test_cloud_only_routes(client, http):
    col = client.create_collection("cloudy")
    assert col.fork_count() == 0  # fork is served: see test_fork.py
    r = http.post(f"{C}/{col.id}/search", json={"searches": []})
    assert r.status_code == 200 and r.json()["ids"] == []  # served: see test_search.py
    r = http.get(f"{C}/{col.id}/indexing_status")
    assert r.status_code == 500 and r.json() == {"error": "InternalError", "message": "Method scout_logs is not implemented"}
    r = http.get("/api/v2/collections/default_tenant:default_database:cloudy")
    assert r.status_code == 200 and r.json()["id"] == str(col.id)


def test_openapi_docs_metrics(http):
    doc = http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query" in doc["paths"]
    r = http.get("/docs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/docs/"
    assert "/openapi.json" in http.get("/docs/").text
    http.get("/api/v2/heartbeat")
    text = http.get("/metrics").text
    assert 'chromite_http_requests_total{method="GET",route="/api/v2/heartbeat",status="200"}' in text
    assert "chromite_http_request_duration_seconds_bucket" in text
    assert "# TYPE chromite_collections gauge" in text


def test_cors_preflight(http):
    r = http.options(
        C,
        headers={"origin": "http://app.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"


def test_auth_token(start_server):
    s = start_server("auth", env={"CHROMITE_AUTH_TOKEN": "t0ken"})
    with pytest.raises(Exception):
        chromadb.HttpClient(host="127.0.0.1", port=s.port)
    for transport in ("Authorization", "X-Chroma-Token"):
        c = chromadb.HttpClient(
            host="127.0.0.1",
            port=s.port,
            settings=Settings(
                chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                chroma_client_auth_credentials="t0ken",
                chroma_auth_token_transport_header=transport,
            ),
        )
        col = c.get_or_create_collection("authed", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert col.count() == 1
    import httpx

    r = httpx.get(s.url + C)
    assert r.status_code == 401 and r.json() == {"error": "AuthError", "message": "Unauthorized"}
    assert httpx.get(s.url + "/api/v2/heartbeat").status_code == 200


def test_graceful_shutdown_keeps_data(start_server):
    s = start_server("restart")
    c = chromadb.HttpClient(host="127.0.0.1", port=s.port)
    col = c.create_collection("durable", embedding_function=None)
    col.add(ids=[str(i) for i in range(100)], embeddings=[[float(i), 1.0] for i in range(100)])
    assert s.stop() == 0, s.logs()
    s2 = start_server("restart")
    c2 = chromadb.HttpClient(host="127.0.0.1", port=s2.port)
    col2 = c2.get_collection("durable")
    assert col2.count() == 100
    got = col2.get(ids=["42"], include=["embeddings"])
    assert list(got["embeddings"][0]) == [42.0, 1.0]
