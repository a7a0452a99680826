"""Chroma's Search API through the official client's DSL (`Search`, `K`,
`Knn`, `Rrf`, `GroupBy`, `SparseVector`) against the real binary."""

import pytest
from chromadb import K, Knn, Rrf, Search
from chromadb.api.types import Schema, SparseVectorIndexConfig
from chromadb.base_types import SparseVector
from chromadb.execution.expression import GroupBy, MinK


@pytest.fixture()
def col(client):
    schema = Schema().create_index(SparseVectorIndexConfig(), key="sp")
    c = client.create_collection("searchable", schema=schema, embedding_function=None)
    c.add(
        ids=[f"r{i}" for i in range(6)],
        embeddings=[[float(i), 1.0] for i in range(6)],
        documents=[f"doc {i}" for i in range(6)],
        metadatas=[{"cat": "a" if i % 2 else "b", "i": i, "sp": SparseVector(indices=[i, 10], values=[1.0, 0.5])} for i in range(6)],
    )
    return c


def test_dense_knn_with_filter_and_select(col):
    r = col.search(Search().where(K("i") >= 1).rank(Knn(query=[2.0, 1.0], limit=3)).select(K.DOCUMENT, K.SCORE, "cat"))
    rows = r.rows()[0]
    assert [x["id"] for x in rows] == ["r2", "r1", "r3"]
    assert rows[0] == {"id": "r2", "document": "doc 2", "metadata": {"cat": "b"}, "score": 0.0}
    assert [x["score"] for x in rows] == [0.0, 1.0, 1.0]


def test_sparse_knn_and_rrf(col):
    r = col.search(Search().rank(Knn(query=SparseVector(indices=[3, 10], values=[1.0, 1.0]), key="sp", limit=3)).select(K.SCORE, K.METADATA))
    assert r["ids"][0] == ["r3", "r0", "r1"]
    assert r["scores"][0] == pytest.approx([-0.5, 0.5, 0.5])
    assert r["metadatas"][0][0]["sp"] == SparseVector(indices=[3, 10], values=[1.0, 0.5])
    hybrid = Rrf([
        Knn(query=[2.0, 1.0], return_rank=True, default=1000, limit=6),
        Knn(query=SparseVector(indices=[5], values=[1.0]), key="sp", return_rank=True, default=1000, limit=6),
    ])
    r = col.search(Search().rank(hybrid).limit(3).select(K.SCORE))
    assert r["ids"][0][0] == "r5"
    assert r["scores"][0][0] == pytest.approx(-(1 / 65 + 1 / 60), rel=1e-6)


def test_group_by_id_filter_and_batches(col):
    g = Search().rank(Knn(query=[2.0, 1.0], limit=6)).group_by(GroupBy(keys=K("cat"), aggregate=MinK(keys=K.SCORE, k=1)))
    ids = Search().where(K.ID.is_in(["r1", "r4"]))
    page = Search().limit(2, offset=2).select(K.SCORE)
    r = col.search([g, ids, page])
    assert r["ids"] == [["r2", "r1"], ["r1", "r4"], ["r2", "r3"]]
    assert r["scores"][2] == [0.0, 1.0]
