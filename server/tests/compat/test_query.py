"""Query through the official client: Chroma's distances for l2/cosine/ip,
exact kNN against numpy, n_results, filters, include, unknown ids."""

import chromadb.errors as cerr
import numpy as np
import pytest

from conftest import C

A, B, CC = [1.0, 0.0], [0.0, 2.0], [3.0, 4.0]


def make(client, space):
    col = client.create_collection(f"q-{space}", configuration={"hnsw": {"space": space}}, embedding_function=None)
    col.add(ids=["a", "b", "c"], embeddings=[A, B, CC], documents=["doc a", "doc b", "doc c"],
            metadatas=[{"n": 1}, {"n": 2}, {"n": 3}])
    return col


@pytest.mark.parametrize(
    "space,ids,dists",
    [
        ("l2", ["a", "b", "c"], [1.0, 2.0, 13.0]),
        ("cosine", ["c", "a", "b"], [0.010050476, 0.29289323, 0.29289323]),
        ("ip", ["c", "b", "a"], [-6.0, -1.0, 0.0]),
    ],
)
def test_distances_per_space(client, space, ids, dists):
    col = make(client, space)
    r = col.query(query_embeddings=[[1.0, 1.0]], n_results=3, include=["distances"])
    assert r["ids"][0][0] == ids[0]
    assert sorted(r["ids"][0]) == sorted(ids)
    assert np.allclose(r["distances"][0], dists, atol=1e-6)


def test_query_shape_and_default_include(client, http):
    col = make(client, "l2")
    r = http.post(f"{C}/{col.id}/query", json={"query_embeddings": [[1.0, 0.0], [0.0, 2.0]], "n_results": 1})
    assert r.json() == {"ids": [["a"], ["b"]], "embeddings": None, "documents": [["doc a"], ["doc b"]], "uris": None,
                        "metadatas": [[{"n": 1}], [{"n": 2}]], "distances": [[0.0], [0.0]],
                        "include": ["documents", "metadatas", "distances"]}
    r = http.post(f"{C}/{col.id}/query", json={"query_embeddings": [[1.0, 0.0]]})
    assert len(r.json()["ids"][0]) == 3  # n_results defaults to 10
    r = http.post(f"{C}/{col.id}/query", json={"query_embeddings": [], "n_results": 3})
    assert r.json()["ids"] == []


def test_exact_knn_matches_numpy(client):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2000, 32)).astype(np.float32)
    queries = rng.standard_normal((5, 32)).astype(np.float32)
    for space in ("l2", "cosine", "ip"):
        col = client.create_collection(f"knn-{space}", configuration={"hnsw": {"space": space}}, embedding_function=None)
        col.add(ids=[str(i) for i in range(len(data))], embeddings=data)
        r = col.query(query_embeddings=queries, n_results=10, include=["distances"])
        if space == "l2":
            d = ((queries[:, None, :] - data[None, :, :]) ** 2).sum(-1)
        elif space == "ip":
            d = 1.0 - queries @ data.T
        else:
            qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
            dn = data / np.linalg.norm(data, axis=1, keepdims=True)
            d = 1.0 - qn @ dn.T
        for qi in range(len(queries)):
            want = np.argsort(d[qi])[:10]
            got = [int(x) for x in r["ids"][qi]]
            recall = len(set(got) & set(want.tolist())) / 10
            assert recall >= 0.9, (space, qi, got, want)
            assert np.allclose(sorted(r["distances"][qi]), r["distances"][qi])
            assert np.allclose(r["distances"][qi], d[qi][got], rtol=1e-3, atol=1e-3)


def test_filters_ids_and_errors(client):
    col = make(client, "l2")
    r = col.query(query_embeddings=[[1.0, 0.0]], where={"n": {"$gt": 1}}, n_results=5, include=[])
    assert r["ids"] == [["b", "c"]]
    r = col.query(query_embeddings=[[1.0, 0.0]], where_document={"$contains": " c"}, n_results=5, include=[])
    assert r["ids"] == [["c"]]
    r = col.query(query_embeddings=[[1.0, 0.0]], ids=["c", "b"], n_results=5, include=[])
    assert r["ids"] == [["b", "c"]]
    with pytest.raises(Exception, match="Error finding id"):
        col.query(query_embeddings=[[1.0, 0.0]], ids=["nope"], n_results=1)
    with pytest.raises(cerr.InvalidArgumentError, match="dimension of 2, got 3"):
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=1)


def test_include_embeddings_and_uris(client):
    col = make(client, "l2")
    r = col.query(query_embeddings=[CC], n_results=1, include=["embeddings", "uris", "metadatas"])
    assert r["embeddings"][0][0].tolist() == CC
    assert r["uris"] == [[None]]
    assert r["metadatas"] == [[{"n": 3}]]
    assert r["distances"] is None
