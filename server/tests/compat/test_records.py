"""Records through the official client: add/get/update/upsert/delete,
base64 embeddings, include, peek, count, order, validation messages."""

import chromadb.errors as cerr
import numpy as np
import pytest

from conftest import C

IDS = ["id2", "id1", "id3"]
EMB = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.2]]


@pytest.fixture()
def col(client):
    c = client.create_collection("recs", embedding_function=None)
    c.add(ids=IDS, embeddings=EMB, documents=["foo bar", "hello world", None],
          metadatas=[{"k": 2, "s": "b"}, {"k": 1, "s": "a", "tags": ["x", "y"]}, None], uris=["u2", None, "u3"])
    return c


def test_add_status_is_201(col, http):
    r = http.post(f"{C}/{col.id}/add", json={"ids": ["n"], "embeddings": [[1.0, 1.0]]})
    assert r.status_code == 201 and r.json() == {}


def test_get_defaults_and_order(col):
    r = col.get()
    assert r["ids"] == IDS  # first-insertion order
    assert r["documents"] == ["foo bar", "hello world", None]
    assert r["metadatas"] == [{"k": 2, "s": "b"}, {"k": 1, "s": "a", "tags": ["x", "y"]}, None]
    assert r["embeddings"] is None
    assert sorted(r["included"]) == ["documents", "metadatas"]
    r = col.get(ids=["id3", "nope", "id2"])
    assert r["ids"] == ["id2", "id3"]


def test_get_include_everything_and_exact_f32(col):
    r = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    assert [list(map(float, e)) for e in r["embeddings"]] == [list(np.float32(e)) for e in EMB]
    assert r["uris"] == ["u2", None, "u3"]


def test_raw_f32_printing_and_include_echo(col, http):
    r = http.post(f"{C}/{col.id}/get", json={"ids": ["id3"], "include": ["embeddings", "embeddings"]})
    assert '"embeddings":[[0.1,0.2]]' in r.text
    assert r.json()["include"] == ["embeddings", "embeddings"]
    assert r.json()["documents"] is None and r.json()["metadatas"] is None and r.json()["uris"] is None


def test_limit_offset_peek_count(col):
    assert col.count() == 3
    assert col.get(limit=2, include=[])["ids"] == ["id2", "id1"]
    assert col.get(limit=2, offset=2, include=[])["ids"] == ["id3"]
    assert col.get(offset=5, include=[])["ids"] == []
    p = col.peek(2)
    assert p["ids"] == ["id2", "id1"] and len(p["embeddings"]) == 2


def test_base64_path_with_numpy(client, http):
    col = client.create_collection("np-col", embedding_function=None)
    arr = np.random.default_rng(7).standard_normal((50, 16)).astype(np.float32)
    col.add(ids=[f"r{i}" for i in range(50)], embeddings=arr)
    got = col.get(include=["embeddings"])
    assert np.array_equal(np.array(got["embeddings"], dtype=np.float32), arr)
    import base64

    vec = base64.b64encode(np.arange(1, 17, dtype="<f4").tobytes()).decode()
    r = http.post(f"{C}/{col.id}/upsert", json={"ids": ["b64"], "embeddings": [vec]})
    assert r.status_code == 200, r.text
    assert col.get(ids=["b64"], include=["embeddings"])["embeddings"][0][:2].tolist() == [1.0, 2.0]


def test_add_existing_is_noop_update_missing_is_noop(col):
    col.add(ids=["id1"], embeddings=[[9.0, 9.0]], documents=["changed"])
    assert col.get(ids=["id1"])["documents"] == ["hello world"]
    col.update(ids=["missing"], metadatas=[{"x": 1}])
    assert col.count() == 3


def test_update_merges_and_null_deletes(col):
    col.update(ids=["id2"], metadatas=[{"k": 20, "s": None, "new": True}])
    r = col.get(ids=["id2"], include=["metadatas", "documents", "embeddings"])
    assert r["metadatas"] == [{"k": 20, "new": True}]
    assert r["documents"] == ["foo bar"]
    assert r["embeddings"][0].tolist() == [0.0, 1.0]
    col.update(ids=["id2"], embeddings=[[5.0, 5.0]], documents=["five"])
    r = col.get(ids=["id2"], include=["embeddings", "documents"])
    assert r["embeddings"][0].tolist() == [5.0, 5.0] and r["documents"] == ["five"]


def test_upsert(col):
    col.upsert(ids=["id1", "new"], embeddings=[[2.0, 2.0], [3.0, 3.0]], documents=["up", "fresh"],
               metadatas=[{"k": 10}, {"k": 11}])
    assert col.count() == 4
    r = col.get(ids=["id1", "new"], include=["documents", "metadatas"])
    assert r["documents"] == ["up", "fresh"]
    assert r["metadatas"][0]["k"] == 10 and r["metadatas"][0]["s"] == "a"


def test_delete_counts(col, http):
    r = http.post(f"{C}/{col.id}/delete", json={"ids": ["id1", "zz"]})
    assert r.json() == {"deleted": 2}
    r = http.post(f"{C}/{col.id}/delete", json={"where": {}, "where_document": {}})
    assert r.json() == {"deleted": 0}
    col.delete(where={"k": 2})
    assert col.get()["ids"] == ["id3"]


def test_filters(col):
    assert col.get(where={"k": {"$gte": 1}})["ids"] == ["id2", "id1"]
    assert col.get(where={"tags": {"$contains": "x"}})["ids"] == ["id1"]
    assert col.get(where={"s": {"$ne": "a"}})["ids"] == ["id2", "id3"]  # negative matches missing keys
    assert col.get(where={"k": {"$in": [1, 5]}})["ids"] == ["id1"]
    assert col.get(where={"$or": [{"k": 1}, {"k": 2}]})["ids"] == ["id2", "id1"]
    assert col.get(where_document={"$contains": "hello"})["ids"] == ["id1"]
    assert col.get(where_document={"$not_contains": "hello"})["ids"] == ["id2", "id3"]
    assert col.get(where_document={"$regex": "^fo+"})["ids"] == ["id2"]
    assert col.get(where={"#document": {"$contains": "world"}})["ids"] == ["id1"]


def test_bad_filters(col, http):
    r = http.post(f"{C}/{col.id}/get", json={"where": {"a": 1, "b": 2}})
    assert r.status_code == 400 and r.json() == {"error": "InvalidArgumentError", "message": "Invalid where clause"}
    r = http.post(f"{C}/{col.id}/get", json={"where": {"k": {"$gt": "x"}}})
    assert r.status_code == 400
    r = http.post(f"{C}/{col.id}/get", json={"where_document": {"$nope": "x"}})
    assert r.status_code == 400 and r.json()["message"] == "Invalid where document clause"


def test_validation_messages(col, http):
    with pytest.raises(cerr.InvalidArgumentError, match="Collection expecting embedding with dimension of 2, got 3"):
        col.add(ids=["d3"], embeddings=[[1.0, 2.0, 3.0]])
    url = f"{C}/{col.id}/add"
    cases = [
        ({"ids": ["a", "b"], "embeddings": [[1.0, 1.0]]}, "Inconsistent number of IDs, embeddings, documents, URIs and metadatas"),
        ({"ids": [""], "embeddings": [[1.0, 1.0]]}, "Empty ID, ID must have at least one character"),
        ({"ids": ["e"], "embeddings": [[]]}, "Validation error: embeddings: Each embedding must have at least 1 dimension"),
        ({"ids": ["e"], "embeddings": [[1e39, 1.0]]}, "Validation error: embeddings: Embeddings must not contain NaN or Infinity values"),
    ]
    for body, msg in cases:
        r = http.post(url, json=body)
        assert r.status_code == 400 and r.json() == {"error": "InvalidArgumentError", "message": msg}, r.text
    r = http.post(url, json={"ids": ["e"], "embeddings": [[1.0, 1.0]], "metadatas": [{"n": {"x": 1}}]})
    assert r.status_code == 422
    r = http.post(f"{C}/{col.id}/get", json={"include": ["data"]})
    assert r.status_code == 422
    r = http.post(url, json={"ids": ["e"], "documents": ["text only"]})
    assert r.status_code == 400 and "--model" in r.json()["message"]
    assert col.count() == 3


def test_dimension_survives_delete_all(col):
    col.delete(ids=IDS)
    assert col.count() == 0
    with pytest.raises(cerr.InvalidArgumentError, match="dimension of 2, got 3"):
        col.add(ids=["x"], embeddings=[[1.0, 2.0, 3.0]])


def test_big_batch(client):
    col = client.create_collection("big", embedding_function=None)
    n = 5461
    arr = np.random.default_rng(1).standard_normal((n, 8)).astype(np.float32)
    col.add(ids=[str(i) for i in range(n)], embeddings=arr, metadatas=[{"i": i} for i in range(n)])
    assert col.count() == n
    assert col.get(where={"i": {"$lt": 10}}, include=[])["ids"] == [str(i) for i in range(10)]
