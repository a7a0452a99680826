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


def test_chroma_bm25_embedding_function_end_to_end(client):
    """The client's own BM25 function fills the sparse key from documents
    (source_key #document) and embeds a text query; the server weights it
    by IDF over its live records. Expected scores are computed here from
    the same function's vectors."""
    import numpy as np
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    bm25 = ChromaBm25EmbeddingFunction()
    schema = Schema().create_index(
        SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=bm25, bm25=True), key="bm25"
    )
    c = client.create_collection("bm25docs", schema=schema, embedding_function=None)
    docs = [
        "The quick brown fox jumps over the lazy dog",
        "A fox is a small omnivorous mammal",
        "Dogs are loyal companions and good runners",
        "The stock market jumped on Monday",
        "Quick sort is a divide and conquer sorting algorithm",
        "Brown bears and red foxes live in the forest",
    ]
    c.add(ids=[f"d{i}" for i in range(len(docs))], embeddings=[[float(i), 1.0] for i in range(len(docs))], documents=docs)
    c.delete(ids=["d3"])  # N and n_t count live records only
    live = [i for i in range(len(docs)) if i != 3]
    stored = c.get(ids=["d0"], include=["metadatas"])["metadatas"][0]["bm25"]
    local = bm25([docs[0]])[0]
    assert stored.indices == local.indices
    assert stored.values == pytest.approx(local.values, rel=1e-6)  # stored as f32

    text = "quick fox jumps"
    r = c.search(Search().rank(Knn(query=text, key="bm25", limit=4)).select(K.SCORE))
    q = bm25.embed_query([text])[0]
    vecs = {i: bm25([docs[i]])[0] for i in live}
    n = np.float32(len(live))
    weights = []
    for t, w in zip(q.indices, q.values):
        nt = np.float32(sum(1 for i in live if t in vecs[i].indices))
        weights.append(np.float32(w) * np.float32(np.log(np.float32(1) + (n - nt + np.float32(0.5)) / (nt + np.float32(0.5)))))
    want = []
    for i in live:
        d = dict(zip(vecs[i].indices, vecs[i].values))
        shared = [k for k, t in enumerate(q.indices) if t in d]
        if shared:
            dot = np.float32(0)
            for k in shared:
                dot += weights[k] * np.float32(d[q.indices[k]])
            want.append((float(np.float32(1) - dot), i))
    want.sort(key=lambda x: (x[0], x[1]))
    want = want[:4]
    assert r["ids"][0] == [f"d{i}" for _, i in want]
    assert r["scores"][0] == pytest.approx([s for s, _ in want], rel=1e-5)
    assert "d3" not in r["ids"][0]
