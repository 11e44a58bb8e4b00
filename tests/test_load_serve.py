"""bench/load_serve.py, the load test of `kgtool serve` (run on demand with 200 requests): here with a few
requests, to check that it starts a server on loopback, sends every kind of request, checks the answers
and stops the server. No speed is asserted."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_load_script_runs_every_saved_query_without_error(tmp_path: Path) -> None:
    output = tmp_path / "serve-load.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_serve.py"), "--requests", "24", "--output", str(output)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "KGTOOL_PROJECT": str(ROOT), "KGTOOL_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(output.read_text(encoding="utf-8"))
    assert results["requests"] == 24 and results["errors"] == 0, results["error_examples"]
    assert sorted(results["queries"]) == sorted(p.stem for p in (ROOT / "queries").glob("*.rq"))
    latency = results["latency_seconds"]
    assert 0 < latency["median"] <= latency["p99"] <= latency["max"]
    assert "24 concurrent requests to http://127.0.0.1:" in done.stdout


def test_the_load_script_refuses_a_server_off_loopback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load_serve.py"), "--url", "http://192.0.2.1:80"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and "loopback" in done.stderr
