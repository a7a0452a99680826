"""Fork through the official client: `collection.fork(name)` and
`fork_count()`, copy-on-write snapshots that are independent afterwards."""

import pytest
from chromadb import errors as cerr


def test_fork_is_a_snapshot_then_independent(client):
    col = client.create_collection("fork-src", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1}, {"k": 2}])
    fork = col.fork("fork-dst")
    assert fork.name == "fork-dst" and fork.count() == 2
    assert col.fork_count() == 1 and fork.fork_count() == 1
    fork.add(ids=["c"], embeddings=[[1.0, 1.0]], metadatas=[{"child_only": True}])
    col.delete(ids=["a"])
    assert col.count() == 1 and fork.count() == 3
    assert "child_only" in client.get_collection("fork-dst", embedding_function=None).schema.keys
    assert "child_only" not in client.get_collection("fork-src", embedding_function=None).schema.keys
    assert fork.query(query_embeddings=[[1.0, 0.0]], n_results=1)["ids"] == [["a"]]
    with pytest.raises(cerr.ChromaError, match="already exists"):
        col.fork("fork-dst")
    for i in range(4):
        col.fork(f"fork-more-{i}")
    assert col.fork_count() == 5 and fork.fork_count() == 5
