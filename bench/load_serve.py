#!/usr/bin/env python3
"""Load test of `kgtool serve`: N concurrent queries (default 200) at a server on loopback.

    python bench/load_serve.py [--url http://127.0.0.1:PORT] [--requests 200] [--timeout 30]
                               [--output bench/results/serve-load.json]

Without --url it starts `kgtool serve --port 0` (the built graph, loopback only) as a child process,
waits for it to announce its address, and stops it by its PID at the end. Every saved query in
queries/ is first run once, one at a time, for its expected number of rows; then all N requests are
sent at once, a mix of the saved queries: those without parameters as plain SPARQL Protocol requests
to /sparql (GET and POST in turn, JSON and CSV answers), those with parameters through /api/run
(their defaults bound as RDF terms). A request counts as an error when its status is not 200, its
answer cannot be parsed or it has a number of rows other than expected. Printed: errors, wall time,
throughput, and the median, p90, p99 and maximum latency; the same as JSON with --output.

Loopback only: the script refuses any other address. It sends a bounded number of requests and stops.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rdflib import Graph

ROOT = Path(__file__).resolve().parent.parent
ANNOUNCED = re.compile(r"SPARQL endpoint at (http://\S+)/sparql")


@dataclass(frozen=True)
class Job:
    """One kind of request: a saved query by name, sent to /sparql (no parameters) or /api/run; `gives_graph`
    for CONSTRUCT and DESCRIBE, whose answers are counted in triples."""

    name: str
    text: str
    has_parameters: bool
    gives_graph: bool


@dataclass(frozen=True)
class Outcome:
    job: str
    seconds: float
    status: int
    rows: int | None
    problem: str | None


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the values."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def start_server(timeout: float) -> tuple[subprocess.Popen[str], str]:
    """`kgtool serve --port 0` as a child; its base URL once it has announced it."""
    command = [sys.executable, "-m", "kgtool", "serve", "--port", "0", "--timeout", str(timeout)]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        found = ANNOUNCED.search(line)
        if found:
            return process, found.group(1)
    process.kill()
    raise SystemExit(f"kgtool serve did not start (exit code {process.poll()})")


async def jobs_of(client: httpx.AsyncClient) -> list[Job]:
    """The server's saved queries, each run once through /api/run to learn its form."""
    jobs = []
    for query in (await client.get("/api/queries")).json():
        answer = (await client.post("/api/run", json={"name": query["name"], "params": {}})).json()
        jobs.append(Job(query["name"], query["text"], bool(query["parameters"]), answer.get("turtle") is not None))
    return jobs


async def send(client: httpx.AsyncClient, job: Job, turn: int) -> tuple[int, int | None]:
    """One request for the job; (status, rows or triples in the answer, or None when it has none)."""
    if job.has_parameters:
        response = await client.post("/api/run", json={"name": job.name, "params": {}})
        if response.status_code != 200:
            return response.status_code, None
        answer = response.json()
        return 200, len(Graph().parse(data=answer["turtle"], format="turtle")) if job.gives_graph else len(answer["rows"])
    as_csv = turn % 4 >= 2
    headers = {"Accept": "text/turtle" if job.gives_graph else "text/csv" if as_csv else "application/sparql-results+json"}
    if turn % 2:
        response = await client.post("/sparql", data={"query": job.text}, headers=headers)
    else:
        response = await client.get("/sparql", params={"query": job.text}, headers=headers)
    if response.status_code != 200:
        return response.status_code, None
    if job.gives_graph:
        return 200, len(Graph().parse(data=response.text, format="turtle"))
    if as_csv:
        return 200, len(list(csv.reader(io.StringIO(response.text)))) - 1
    return 200, len(response.json()["results"]["bindings"])


async def timed(client: httpx.AsyncClient, job: Job, turn: int, expected: dict[str, int]) -> Outcome:
    started = time.perf_counter()
    try:
        status, rows = await send(client, job, turn)
        problem = None if status == 200 and rows == expected[job.name] else \
            f"status {status}, {rows} rows (expected {expected[job.name]})"
    except (httpx.HTTPError, ValueError, KeyError) as error:
        status, rows, problem = 0, None, f"{type(error).__name__}: {error}"
    return Outcome(job.name, time.perf_counter() - started, status, rows, problem)


async def load(url: str, count: int, timeout: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        jobs = await jobs_of(client)
        expected: dict[str, int] = {}
        for job in jobs:  # one at a time, for the expected answers (and a warm server)
            status, rows = await send(client, job, 0)
            if status != 200 or rows is None:
                raise SystemExit(f"saved query {job.name} failed on its own: status {status}")
            expected[job.name] = rows
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(timed(client, jobs[i % len(jobs)], i, expected) for i in range(count)))
        wall = time.perf_counter() - started
    latencies = [o.seconds for o in outcomes]
    errors = [o for o in outcomes if o.problem]
    return {
        "requests": count, "errors": len(errors), "error_examples": [f"{o.job}: {o.problem}" for o in errors[:5]],
        "wall_seconds": round(wall, 3), "requests_per_second": round(count / wall, 1),
        "latency_seconds": {"median": round(statistics.median(latencies), 3),
                            "p90": round(percentile(latencies, 0.90), 3),
                            "p99": round(percentile(latencies, 0.99), 3), "max": round(max(latencies), 3)},
        "queries": sorted(expected),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running kgtool serve on loopback (default: start one)")
    parser.add_argument("--requests", type=int, default=200, help="how many requests to send at once")
    parser.add_argument("--timeout", type=float, default=30.0, help="the server's query time limit, and the "
                                                                     "client's per request limit (x4)")
    parser.add_argument("--output", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    if not 1 <= args.requests <= 1000:
        parser.error("--requests must be between 1 and 1000")
    process = None
    url = args.url
    if url is None:
        process, url = start_server(args.timeout)
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        parser.error("the load test only targets a server on loopback (127.0.0.0/8, localhost, ::1)")
    try:
        results = asyncio.run(load(url, args.requests, args.timeout * 4))
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    latency = results["latency_seconds"]
    print(f"{results['requests']} concurrent requests to {url}: {results['errors']} errors, "
          f"{results['wall_seconds']} s wall, {results['requests_per_second']} requests/s")
    print(f"latency: median {latency['median']} s, p90 {latency['p90']} s, p99 {latency['p99']} s, "
          f"max {latency['max']} s")
    for example in results["error_examples"]:
        print(f"  error: {example}")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
