"""Collections through the official client: create/get/list/count/modify/
delete, error classes and messages, configuration_json and schema."""

import chromadb
import chromadb.errors as cerr
import pytest

from conftest import C


def test_create_get_and_object_shape(client):
    col = client.create_collection("col1", metadata={"a": 1, "b": "x", "c": True, "d": 1.5}, embedding_function=None)
    assert col.name == "col1"
    assert col.metadata == {"a": 1, "b": "x", "c": True, "d": 1.5}
    got = client.get_collection("col1", embedding_function=None)
    assert got.id == col.id
    cfg = got.configuration_json
    assert cfg["hnsw"] == {"space": "l2", "ef_construction": 100, "ef_search": 100, "max_neighbors": 16,
                           "resize_factor": 1.2, "sync_threshold": 1000}
    assert cfg["spann"] is None
    # the client parses the schema we derive
    schema = got.schema
    assert schema is not None
    assert schema.keys["#embedding"].float_list.vector_index.enabled is True
    assert got.get_model().dimension is None
    got.add(ids=["x"], embeddings=[[1.0, 2.0, 3.0]])
    assert client.get_collection("col1").get_model().dimension == 3


def test_default_embedding_function_config_round_trips(client):
    # the default EF is described as known/default; it is stored verbatim (the
    # client does not need to run it when we pass embeddings)
    col = client.create_collection("with-ef")
    ef = col.configuration_json["embedding_function"]
    assert ef["type"] == "known" and ef["name"] == "default"
    again = client.get_collection("with-ef")
    assert again.configuration_json["embedding_function"] == ef


def test_duplicate_and_get_or_create(client):
    col = client.create_collection("dup", metadata={"v": 1}, embedding_function=None)
    with pytest.raises(cerr.ChromaError, match=r"Collection \[dup\] already exists"):
        client.create_collection("dup", embedding_function=None)
    same = client.get_or_create_collection("dup", metadata={"v": 2}, embedding_function=None)
    assert same.id == col.id
    assert same.metadata == {"v": 1}


def test_not_found_messages(client):
    with pytest.raises(cerr.NotFoundError, match=r"Collection \[nope\] does not exist"):
        client.get_collection("nope")
    with pytest.raises(cerr.NotFoundError, match=r"Collection \[nope\] does not exist"):
        client.delete_collection("nope")
    import uuid

    missing = uuid.uuid4()
    with pytest.raises(cerr.NotFoundError, match=rf"Collection \[{missing}\] does not exist"):
        client.get_collection_by_id(missing)


def test_name_validation(client):
    with pytest.raises(cerr.InvalidArgumentError, match=r"Expected a name containing 3-512 characters"):
        client.create_collection("ab")
    with pytest.raises(cerr.InvalidArgumentError, match="two consecutive periods"):
        client.create_collection("a..bc")
    with pytest.raises(cerr.InvalidArgumentError, match="not a valid ip address"):
        client.create_collection("127.0.0.1")


def test_metadata_validation(client, http):
    r = http.post(C, json={"name": "empty-meta", "metadata": {}})
    assert r.status_code == 400 and r.json()["message"] == "Validation error: metadata: Metadata cannot be empty"
    # a list value (crashes real Chroma) and a nested object: 422
    for bad in ({"l": [1, 2]}, {"o": {"x": 1}}):
        r = http.post(C, json={"name": "bad-meta", "metadata": bad})
        assert r.status_code == 422, r.text
        assert r.json()["message"].startswith("Failed to deserialize the JSON body into the target type: metadata")
    assert http.get("/api/v2/heartbeat").status_code == 200


def test_list_count_order_and_paging(client):
    for n in ("col1", "col2", "col3"):
        client.create_collection(n, embedding_function=None)
    cols = client.list_collections()
    assert [str(c.id) for c in cols] == sorted(str(c.id) for c in cols)
    assert client.count_collections() == 3
    page = client.list_collections(limit=2, offset=1)
    assert [c.id for c in page] == [c.id for c in cols[1:3]]
    assert client.list_collections(limit=1, offset=5) == []


def test_modify(client):
    col = client.create_collection("before", metadata={"a": 1, "b": 2}, embedding_function=None)
    col.modify(name="after", metadata={"c": 3})
    got = client.get_collection("after", embedding_function=None)
    assert got.id == col.id and got.metadata == {"c": 3}
    with pytest.raises(cerr.NotFoundError):
        client.get_collection("before")
    col.modify(configuration={"hnsw": {"ef_search": 77}})
    assert client.get_collection("after").configuration_json["hnsw"]["ef_search"] == 77


def test_rename_onto_existing_name_is_409(client, http):
    a = client.create_collection("name-a", embedding_function=None)
    client.create_collection("name-b", embedding_function=None)
    with pytest.raises(cerr.ChromaError, match="already exists"):
        a.modify(name="name-b")
    r = http.put(f"{C}/{a.id}", json={"new_name": "name-b"})
    assert r.status_code == 409
    assert client.get_collection("name-a").id == a.id


def test_modify_empty_metadata_is_400(client, http):
    col = client.create_collection("meta-mod", metadata={"a": 1}, embedding_function=None)
    r = http.put(f"{C}/{col.id}", json={"new_metadata": {}})
    assert r.status_code == 400
    assert r.json() == {"error": "InvalidArgumentError", "message": "Validation error: new_metadata: Metadata cannot be empty"}


def test_spaces_from_configuration_and_legacy_metadata(client):
    c1 = client.create_collection("cfg-cos", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    assert c1.configuration_json["hnsw"]["space"] == "cosine"
    c2 = client.create_collection("legacy-ip", metadata={"hnsw:space": "ip"}, embedding_function=None)
    assert c2.configuration_json["hnsw"]["space"] == "ip"
    assert c2.metadata == {"hnsw:space": "ip"}
    c3 = client.create_collection("legacy-wins", metadata={"hnsw:space": "cosine"},
                                  configuration={"hnsw": {"space": "l2"}}, embedding_function=None)
    assert c3.configuration_json["hnsw"]["space"] == "cosine"


def test_schema_argument(client):
    from chromadb import Schema, VectorIndexConfig

    schema = Schema().create_index(config=VectorIndexConfig(space="ip"))
    col = client.create_collection("schemed", schema=schema, embedding_function=None)
    assert col.configuration_json["hnsw"]["space"] == "ip"


def test_delete_then_record_ops_fail(client):
    col = client.create_collection("doomed", embedding_function=None)
    client.delete_collection("doomed")
    with pytest.raises(cerr.NotFoundError, match=rf"Collection \[{col.id}\] does not exist."):
        col.count()
    with pytest.raises(cerr.NotFoundError):
        col.add(ids=["a"], embeddings=[[1.0]])


def test_tenants_and_databases(server):
    from chromadb.config import Settings

    admin = chromadb.AdminClient(Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                          chroma_server_host="127.0.0.1", chroma_server_http_port=server.port))
    admin.create_tenant("acme-tenant")
    assert admin.get_tenant("acme-tenant")["name"] == "acme-tenant"
    with pytest.raises(cerr.ChromaError, match=r"Tenant \[acme-tenant\] already exists"):
        admin.create_tenant("acme-tenant")
    with pytest.raises(cerr.InvalidArgumentError, match="Validation error: name"):
        admin.create_tenant("t1")
    with pytest.raises(cerr.NotFoundError, match=r"Tenant \[ghost-tenant\] not found"):
        admin.get_tenant("ghost-tenant")
    for name in ("zeta", "alpha", "mid"):
        admin.create_database(name, tenant="acme-tenant")
    assert [d["name"] for d in admin.list_databases(tenant="acme-tenant")] == ["alpha", "mid", "zeta"]
    assert [d["name"] for d in admin.list_databases(tenant="acme-tenant", limit=1, offset=1)] == ["mid"]
    with pytest.raises(cerr.ChromaError, match=r"Database \[alpha\] already exists"):
        admin.create_database("alpha", tenant="acme-tenant")
    with pytest.raises(cerr.NotFoundError, match=r"Database \[nope\] not found"):
        admin.get_database("nope", tenant="acme-tenant")
    scoped = chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant="acme-tenant", database="alpha")
    scoped.create_collection("inside", embedding_function=None).add(ids=["z"], embeddings=[[1.0]])
    assert scoped.count_collections() == 1
    admin.delete_database("alpha", tenant="acme-tenant")
    with pytest.raises(cerr.NotFoundError):
        admin.get_database("alpha", tenant="acme-tenant")
    with pytest.raises(Exception):
        chromadb.HttpClient(host="127.0.0.1", port=server.port, tenant="ghost-tenant")
