#!/usr/bin/env python3
"""Time every SPARQL query the SPARQL validation engine runs on one graph, slowest first.

    python bench/profile_validate.py [bench/.work/synth-1M-7.nt] [--top 15] [--repeat 3] [--workers N]
                                     [--show-text]

Loads the N-Triples file into Oxigraph as `kgtool validate --engine sparql` does (kgtool.shacl_sparql.
load_store), then validates it `--repeat` times and prints the median wall time and the CPU time of each
run, then, for the last run, each query's time (until its rows are all read), the number of rows it gave
and its start. With more than one worker (the default: one per processor) queries overlap and their
times add up to more than the run's; `--workers 1` gives each query's own cost.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kgtool import shacl_sparql
from kgtool.validate import load_shapes


class _Timed:
    """Wraps a query result: the time until its rows are all read counts for the query."""

    def __init__(self, text: str, result: Any, start: float, log: list[tuple[float, int, str]]) -> None:
        self.text, self.result, self.start, self.log = text, result, start, log
        self.variables = getattr(result, "variables", [])

    def __iter__(self) -> Any:
        rows = list(self.result)
        self.log.append((time.perf_counter() - self.start, len(rows), self.text))
        return iter(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT / "bench/.work/synth-1M-7.nt"))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--show-text", action="store_true", help="print the whole text of the slowest queries")
    parser.add_argument("--workers", type=int, help="queries at a time (default: one per processor)")
    args = parser.parse_args()
    plan = shacl_sparql.ShapesPlan(load_shapes([ROOT / "shapes"]))
    start = time.perf_counter()
    store = shacl_sparql.load_store(Path(args.data), preserve=plan.preserved)
    print(f"load: {time.perf_counter() - start:.2f} s, {len(store)} quads")
    log: list[tuple[float, int, str]] = []
    lock = threading.Lock()
    original = store.query

    class Store:
        """The store, with every query timed (pyoxigraph.Store cannot be subclassed or patched)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def query(self, text: str, **options: Any) -> Any:
            begun = time.perf_counter()
            result = original(text, **options)
            if isinstance(result, bool) or not hasattr(result, "variables"):
                with lock:
                    log.append((time.perf_counter() - begun, 0, text))
                return result
            return _Timed(text, result, begun, log)

    totals, cpu = [], []
    report = None
    for _ in range(args.repeat):
        log.clear()
        begun, cpu_begun = time.perf_counter(), time.process_time()
        report = plan.validate(Store(), workers=args.workers)
        totals.append(time.perf_counter() - begun)
        cpu.append(time.process_time() - cpu_begun)
    assert report is not None
    print(f"validate: median {statistics.median(totals):.2f} s (runs: {', '.join(f'{t:.2f}' for t in totals)}; "
          f"CPU {', '.join(f'{t:.2f}' for t in cpu)}); "
          f"{len(report.results)} results; {len(log)} queries, {sum(t for t, _, _ in log):.2f} s in queries")
    for seconds, rows, text in sorted(log, key=lambda item: -item[0])[:args.top]:
        flat = " ".join(text.split())
        print(f"{seconds:7.3f} s {rows:6d} rows  {flat if args.show_text else flat[:200]}")


if __name__ == "__main__":
    main()
