"""The collection Schema through the official `chromadb` client and the real
binary: declared with the client's Schema builder, read back on every
Collection object, enforced, keys discovered and kept across a restart and
a kill -9, `ChromaError.trace_id` set."""

import os
import signal

import pytest
from chromadb import errors as cerr


def test_fts_and_inverted_indexes_can_be_turned_off(client):
    from chromadb import Schema
    from chromadb.api.types import FtsIndexConfig, StringInvertedIndexConfig

    schema = Schema().delete_index(FtsIndexConfig(), key="#document").delete_index(StringInvertedIndexConfig(), key="raw")
    col = client.create_collection("nofts", schema=schema, embedding_function=None)
    assert col.schema.keys["#document"].string.fts_index.enabled is False
    assert col.schema.keys["raw"].string.string_inverted_index.enabled is False
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["alpha", "beta"], metadatas=[{"raw": "x", "n": 1}, {"raw": "y", "n": 2}])
    with pytest.raises(cerr.InvalidArgumentError, match="FTS indexing is disabled") as e:
        col.get(where_document={"$contains": "alpha"})
    assert e.value.trace_id and len(e.value.trace_id) == 32
    with pytest.raises(cerr.InvalidArgumentError, match="Cannot filter using metadata key 'raw' with type 'Str'"):
        col.query(query_embeddings=[[1.0, 0.0]], n_results=1, where={"raw": "x"})
    with pytest.raises(cerr.InvalidArgumentError, match="FTS indexing is disabled"):
        col.delete(where_document={"$contains": "alpha"})
    # Stored and returned all the same; other keys still filter.
    got = col.get(where={"n": 2}, include=["documents", "metadatas"])
    assert got["documents"] == ["beta"] and got["metadatas"][0]["raw"] == "y"
    assert col.count() == 2
    again = client.get_collection("nofts", embedding_function=None)
    assert again.schema.serialize_to_json() == client.get_collection("nofts", embedding_function=None).schema.serialize_to_json()
    assert again.schema.keys["#document"].string.fts_index.enabled is False


def test_schema_space_and_embedding_function_are_what_queries_use(client):
    from chromadb import Schema, VectorIndexConfig

    col = client.create_collection("ipspace", schema=Schema().create_index(config=VectorIndexConfig(space="ip")), embedding_function=None)
    assert col.schema.keys["#embedding"].float_list.vector_index.config.space == "ip"
    assert col.configuration_json["hnsw"]["space"] == "ip"
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.5, 0.5]])
    res = col.query(query_embeddings=[[2.0, 0.0]], n_results=2, include=["distances"])
    # Inner product space: 1 - dot.
    assert res["ids"][0] == ["a", "b"]
    assert res["distances"][0] == pytest.approx([-1.0, 0.0])


def test_configuration_takes_num_threads(client):
    col = client.create_collection("threads", configuration={"hnsw": {"num_threads": 4, "batch_size": 64}}, embedding_function=None)
    hnsw = col.schema.keys["#embedding"].float_list.vector_index.config.hnsw
    assert (hnsw.num_threads, hnsw.batch_size) == (4, 64)


def test_version_grows_after_writes(client):
    col = client.create_collection("versioned", embedding_function=None)
    before = client.get_collection("versioned", embedding_function=None).get_model()["version"]
    col.add(ids=["a"], embeddings=[[1.0]])
    assert client.get_collection("versioned", embedding_function=None).get_model()["version"] > before


def test_discovered_keys_survive_restart_and_kill(start_server):
    import chromadb
    from chromadb.config import Settings

    def connect(s):
        return chromadb.HttpClient(host="127.0.0.1", port=s.port, settings=Settings(anonymized_telemetry=False))

    s = start_server("discover")
    c = connect(s)
    col = c.create_collection("disc", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0]], metadatas=[{"year": 2020, "title": "t"}])
    assert set(c.get_collection("disc", embedding_function=None).schema.keys) >= {"year", "title"}
    assert s.stop() == 0
    s = start_server("discover")
    c = connect(s)
    keys = c.get_collection("disc", embedding_function=None).schema.keys
    assert keys["year"].int_value.int_inverted_index.enabled is True
    assert keys["title"].string.string_inverted_index.enabled is True
    col = c.get_collection("disc", embedding_function=None)
    col.add(ids=["b"], embeddings=[[2.0]], metadatas=[{"score": 0.5}])
    # An acknowledged write's key survives kill -9 (it is in the WAL).
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s = start_server("discover")
    keys = connect(s).get_collection("disc", embedding_function=None).schema.keys
    assert keys["score"].float_value.float_inverted_index.enabled is True
    assert {"year", "title"} <= set(keys)


def test_sparse_vectors_round_trip_through_a_restart(start_server):
    import chromadb
    from chromadb.base_types import SparseVector
    from chromadb.config import Settings

    def connect(s):
        return chromadb.HttpClient(host="127.0.0.1", port=s.port, settings=Settings(anonymized_telemetry=False))

    s = start_server("sparse")
    col = connect(s).create_collection("sparse-meta", embedding_function=None)
    a = SparseVector(indices=[3, 9], values=[0.25, 0.75], labels=["foo", "bar"])
    b = SparseVector(indices=[1], values=[2.0])
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"sv": a, "n": 1}, {"sv": b}])
    with pytest.raises(cerr.InvalidArgumentError, match="Invalid metadata at index 0"):
        col.add(ids=["c"], embeddings=[[1.0, 1.0]], metadatas=[{"#hidden": 1}])
    assert s.stop() == 0  # graceful: the memtable becomes a segment
    s = start_server("sparse")
    c = connect(s)
    col = c.get_collection("sparse-meta", embedding_function=None)
    got = col.get(include=["metadatas"])
    assert got["metadatas"] == [{"sv": a, "n": 1}, {"sv": b}]
    assert c.get_collection("sparse-meta", embedding_function=None).schema.keys["sv"].sparse_vector is not None
