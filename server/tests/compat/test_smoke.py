"""Runs the project's end-to-end smoke script (../shared/tools/chroma-smoke.py,
beside the clone in CI) against the server: 31 checks with reset enabled."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SMOKE = Path(os.environ.get("CHROMA_SMOKE", REPO.parent / "shared" / "tools" / "chroma-smoke.py"))


@pytest.mark.skipif(not SMOKE.exists(), reason=f"{SMOKE} not present")
def test_chroma_smoke_script(server):
    env = {**os.environ, "CHROMA_SMOKE_RESET": "1"}
    out = subprocess.run([sys.executable, str(SMOKE), server.url], capture_output=True, text=True, env=env, timeout=300)
    last = out.stdout.strip().splitlines()[-1]
    assert last == "31 passed, 0 failed", out.stdout + out.stderr
    assert out.returncode == 0
