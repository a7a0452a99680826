"""The load test (16 clients, writes + queries), only when
CHROMITE_LOAD_SECONDS is set: it is too long for the default run."""

import os
import sys
from pathlib import Path

import pytest

SECONDS = float(os.environ.get("CHROMITE_LOAD_SECONDS", "0"))


@pytest.mark.skipif(SECONDS <= 0, reason="set CHROMITE_LOAD_SECONDS=60 to run the load test")
def test_load_no_errors_no_lost_writes():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
    from load_test import run

    res = run(SECONDS, 16, 64)
    print(res)
    assert res["errors"] == 0, res["first_errors"]
    assert res["lost"] == 0 and res["lost_after_restart"] == 0
    assert res["count"] == res["records_acked"] == res["count_after_restart"]
