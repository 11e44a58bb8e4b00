#!/usr/bin/env python3
"""kgtool's benchmark suite: kgtool's engines (Oxigraph, the SPARQL validation engine) against the rdflib and
pySHACL baselines, measured in the same run.

    python bench/run.py [--sizes 10k,100k] [--with-1m] [--repeat N] [--cap SECONDS]
                        [--no-rdflib-baseline-above SIZE] [--queries NAME,...] [--skip build,cold]
                        [--seed S] [--output-dir bench/results]

For each size a synthetic graph (kgtool.synth, same seed every run) is written as N-Triples and Turtle,
then measured through kgtool's own API: loading it (rdflib's parser against `kgtool.store.Store.load`),
SHACL validation after loading (pySHACL against kgtool.shacl_sparql), every saved query in queries/ with
its default parameters (`kgtool.queries.run_saved_query` on rdflib's engine and on the Oxigraph store:
binding, the engine and turning the answer into rdflib terms with labels), and export to Turtle and
N-Triples (rdflib's serialisers against `Store.serialise`, which sorts for byte-stable output). Once per
run: building the shipped graph, and the cold start of `kgtool --help`, `kgtool build` and
`kgtool query NAME` for every saved query (whole commands, the build cache current).

Every measurement runs in a fresh process, started by a small wrapper process that reads the peak
resident set size of that one child (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss). Times are the
operation alone (not interpreter start-up, imports or loading the input), except cold starts, which are
the whole command. Each is repeated --repeat times (median, min, max); the slow baselines (rdflib and
pySHACL) at 100k triples and more run once, and any measurement is stopped at --cap seconds and recorded
as "> cap". Results go to bench/results/latest.json and latest.md, with the machine they ran on, and
the targets of issue 7 with the measured figure and whether each is met.

This is on demand only: the test suite runs it once at a tiny size to check that it works, and never
asserts anything about speed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BASELINES = {"rdflib", "pySHACL"}
SLOW_AT = 100_000  # baselines run once from this size up
TARGETS_AT = 1_000_000


# ------------------------------------------------------------------------------------------------ worker side

def _graph(path: str) -> Any:
    from rdflib import Graph

    graph = Graph()
    graph.parse(path, format="nt")
    return graph


def manifest_path(data: Path) -> Path:
    return data.with_name(data.name + ".manifest.json")


def planted_keys(data: Path) -> list[str]:
    """The (focus node, path, constraint component, severity) of each planted result, as the validation
    worker writes its own: what both engines must report, no more and no less."""
    planted = json.loads(manifest_path(data).read_text(encoding="utf-8"))["violations"]
    return sorted("\t".join(str(x) for x in (v["focusNode"], v["resultPath"], v["sourceConstraintComponent"],
                                             v["resultSeverity"])) for v in planted)


def _store(path: str) -> Any:
    from kgtool.store import Store

    store = Store.in_memory()
    store.load(Path(path))
    return store


def work(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this process; the time covers the operation only, through kgtool's own API
    (the baselines: rdflib's parser, engine and serialisers, and pySHACL)."""
    op, engine, data = spec["op"], spec["engine"], str(spec.get("data") or "")
    extra: dict[str, Any] = {}
    if op == "load":
        fmt = spec["format"]
        start = time.perf_counter()
        if engine == "rdflib":
            from rdflib import Graph

            graph = Graph()
            graph.parse(data, format="nt" if fmt == "ntriples" else "turtle")
            seconds = time.perf_counter() - start
            extra["triples"] = len(graph)
        else:
            store = _store(data)
            seconds = time.perf_counter() - start
            extra["triples"] = len(store)
    elif op == "validate":
        from kgtool.validate import load_shapes

        shapes = load_shapes([ROOT / "shapes"])
        if engine == "pySHACL":
            from kgtool.validate import validate

            graph = _graph(data)
            start = time.perf_counter()
            report = validate(graph, shapes)
            seconds = time.perf_counter() - start
        else:
            from kgtool.shacl_sparql import ShapesPlan, load_store

            plan = ShapesPlan(shapes)
            start = time.perf_counter()
            store = load_store(Path(data), preserve=plan.preserved)
            extra["load_seconds"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            report = plan.validate(store)
            seconds = time.perf_counter() - start
        extra["results"] = len(report.results)
        extra["violations"] = sum(1 for r in report.results if r.severity.value == "Violation")
        found = sorted("\t".join(str(x) for x in (r.focus_node, r.result_path, r.source_constraint_component,
                                                 r.severity.iri)) for r in report.results)
        extra["results_digest"] = hashlib.sha256("\n".join(found).encode("utf-8")).hexdigest()[:16]
        extra["as_planted"] = found == planted_keys(Path(data))
    elif op == "query":
        from kgtool.queries import find_saved_query, run_saved_query
        from kgtool.store import Engine

        saved = find_saved_query(ROOT / "queries", spec["query"])
        target = _graph(data) if engine == "rdflib" else _store(data)
        start = time.perf_counter()
        result = run_saved_query(target, saved, engine=Engine.RDFLIB if engine == "rdflib" else Engine.OXIGRAPH)
        seconds = time.perf_counter() - start
        extra["rows"] = len(result.rows) if result.graph is None else len(result.graph)
    elif op == "export":
        fmt = spec["format"]
        if engine == "rdflib":
            graph = _graph(data)
            start = time.perf_counter()
            output = graph.serialize(format="nt" if fmt == "ntriples" else "turtle", encoding="utf-8")
            seconds = time.perf_counter() - start
        else:
            store = _store(data)
            start = time.perf_counter()
            output = store.serialise(fmt)
            seconds = time.perf_counter() - start
        extra["bytes"] = len(output)
    elif op == "build":
        from kgtool.build import build
        from kgtool.config import Project

        start = time.perf_counter()
        result = build(Project(ROOT))
        seconds = time.perf_counter() - start
        extra["triples"] = len(result.graph)
    else:
        raise ValueError(f"unknown operation {op!r}")
    return {"seconds": seconds, "extra": extra}


# ------------------------------------------------------------------------------------------------ wrapper side

def kgtool_command() -> list[str]:
    script = Path(sys.executable).parent / "kgtool"
    if script.exists():
        return [str(script)]
    found = shutil.which("kgtool")
    return [found] if found else [sys.executable, "-m", "kgtool"]


def measure(spec: dict[str, Any], cap: float) -> dict[str, Any]:
    """Run one measurement in a child process and read that child's peak RSS."""
    env = {**os.environ, "KGTOOL_PROJECT": str(ROOT), "PYTHONPATH": str(ROOT)}
    if spec["op"] == "cold":
        command = kgtool_command() + spec["args"]
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {"status": "timeout", "seconds": None, "rss_mb": round(rss, 1), "extra": {}}
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    if spec["op"] == "cold":
        ok = done.returncode == 0
        return {"status": "ok" if ok else "error", "seconds": wall, "rss_mb": round(rss, 1),
                "extra": {} if ok else {"error": done.stderr.strip()[-400:]}}
    if done.returncode != 0:
        return {"status": "error", "seconds": None, "rss_mb": round(rss, 1),
                "extra": {"error": done.stderr.strip()[-400:]}}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"status": "ok", "seconds": result["seconds"], "rss_mb": round(rss, 1), "extra": result["extra"]}


# ------------------------------------------------------------------------------------------------ the suite

def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
    number = float(text[:-1]) if factor > 1 else float(text)
    return int(number * factor)


def show_size(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    memory: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("rdflib", "pyoxigraph", "pyshacl", "kgtool"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": memory, "os": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "commit": commit.stdout.strip() if commit.returncode == 0 else None}


def prepare(size: int, seed: int, workdir: Path) -> dict[str, str]:
    """The synthetic graph of this size as N-Triples and Turtle (not timed)."""
    import pyoxigraph as ox

    from kgtool.namespaces import PREFIXES
    from kgtool.synth import write_synth

    workdir.mkdir(parents=True, exist_ok=True)
    nt = workdir / f"synth-{show_size(size)}-{seed}.nt"
    ttl = nt.with_suffix(".ttl")
    manifest = write_synth(nt, size, seed, manifest_path=manifest_path(nt))
    ttl.write_bytes(ox.serialize(ox.parse(path=str(nt), format=ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.TURTLE,
                                 prefixes=PREFIXES) or b"")
    return {"ntriples": str(nt), "turtle": str(ttl), "triples": str(manifest.triples),
            "planted": str(len(manifest.violations))}


def measure_in_wrapper(spec: dict[str, Any], cap: float) -> dict[str, Any]:
    """`measure` in a process of its own, so that its RUSAGE_CHILDREN covers exactly one measurement."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", json.dumps(spec), "--cap", str(cap)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap + 60, cwd=ROOT)
    except subprocess.TimeoutExpired:  # pragma: no cover - the wrapper stops its child at the cap
        return {"status": "timeout", "seconds": None, "rss_mb": None, "extra": {}}
    if done.returncode != 0:
        return {"status": "error", "seconds": None, "rss_mb": None, "extra": {"error": done.stderr.strip()[-400:]}}
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def run_measurement(label: str, spec: dict[str, Any], *, repeat: int, cap: float, log: Any) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for _ in range(repeat):
        outcome = measure_in_wrapper(spec, cap)
        runs.append(outcome)
        if outcome["status"] != "ok":
            break
    times = [r["seconds"] for r in runs if r["status"] == "ok"]
    status = runs[-1]["status"]
    entry = {"operation": label, "engine": spec["engine"], "size": spec.get("size"), "status": status,
             "runs": [None if t is None else round(t, 4) for t in (r["seconds"] for r in runs)],
             "median": round(statistics.median(times), 4) if times and status == "ok" else None,
             "min": round(min(times), 4) if times and status == "ok" else None,
             "max": round(max(times), 4) if times and status == "ok" else None,
             "rss_mb": max((r["rss_mb"] for r in runs if r["rss_mb"] is not None), default=None),
             "extra": runs[-1]["extra"], "cap": cap}
    shown = f"{entry['median']:.3f} s" if entry["median"] is not None else (
        f"> {cap:.0f} s" if status == "timeout" else status)
    print(f"  {label:42} {spec['engine']:11} {shown:>12}  {entry['rss_mb'] or 0:>8.1f} MB  {entry['extra']}",
          file=log, flush=True)
    return entry


def suite(args: argparse.Namespace, command_line: list[str]) -> dict[str, Any]:
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if args.with_1m and TARGETS_AT not in sizes:
        sizes.append(TARGETS_AT)
    baseline_limit = parse_size(args.no_rdflib_baseline_above) if args.no_rdflib_baseline_above else None
    skip = {s.strip() for s in (args.skip or "").split(",") if s.strip()}
    queries = sorted(p.stem for p in (ROOT / "queries").glob("*.rq"))
    if args.queries:
        wanted = [q.strip() for q in args.queries.split(",") if q.strip()]
        unknown = sorted(set(wanted) - set(queries))
        if unknown:
            raise SystemExit(f"unknown saved queries: {', '.join(unknown)}")
        queries = wanted
    log = sys.stderr
    entries: list[dict[str, Any]] = []
    datasets: dict[str, Any] = {}
    workdir = Path(args.workdir)
    for size in sizes:
        print(f"{show_size(size)} triples: writing the synthetic graph", file=log, flush=True)
        data = prepare(size, args.seed, workdir)
        datasets[show_size(size)] = {"triples": int(data["triples"]), "planted_results": int(data["planted"])}
        baselines = baseline_limit is None or size <= baseline_limit

        def run(label: str, spec: dict[str, Any], size: int = size, baselines: bool = baselines) -> None:
            spec = {**spec, "size": size}
            if spec["engine"] in BASELINES and not baselines:
                entries.append({"operation": label, "engine": spec["engine"], "size": size, "status": "skipped",
                                "runs": [], "median": None, "min": None, "max": None, "rss_mb": None, "extra": {},
                                "cap": args.cap})
                return
            baseline = spec["engine"] in BASELINES
            repeat = 1 if baseline and size >= SLOW_AT else args.repeat
            cap = args.baseline_cap if baseline and args.baseline_cap else args.cap
            entries.append(run_measurement(label, spec, repeat=repeat, cap=cap, log=log))

        for fmt, name in (("ntriples", "N-Triples"), ("turtle", "Turtle")):
            for engine in ("rdflib", "kgtool"):
                run(f"load {name}", {"op": "load", "engine": engine, "format": fmt, "data": data[fmt]})
        for engine in ("pySHACL", "SPARQL"):
            run("validate (after load)", {"op": "validate", "engine": engine, "data": data["ntriples"]})
        for name in queries:
            for engine in ("rdflib", "kgtool"):
                run(f"query {name}", {"op": "query", "engine": engine, "query": name, "data": data["ntriples"]})
        for fmt, name in (("turtle", "Turtle"), ("ntriples", "N-Triples")):
            for engine in ("rdflib", "kgtool"):
                run(f"export {name}", {"op": "export", "engine": engine, "format": fmt, "data": data["ntriples"]})
    print("the shipped graph and the command line", file=log, flush=True)
    if "build" not in skip:
        entries.append(run_measurement("build the shipped graph (library)", {"op": "build", "engine": "kgtool"},
                                       repeat=args.repeat, cap=args.cap, log=log))
    if "cold" not in skip:
        entries.append(run_measurement("cold start: kgtool --help", {"op": "cold", "engine": "kgtool",
                                                                    "args": ["--help"]},
                                       repeat=args.repeat, cap=args.cap, log=log))
        built = str(Path(args.workdir) / "kgtool.ttl")
        entries.append(run_measurement("cold start: kgtool build", {"op": "cold", "engine": "kgtool",
                                                                   "args": ["build", "--output", built]},
                                       repeat=args.repeat, cap=args.cap, log=log))
        for name in queries:  # after the build above, the cached store is current
            entries.append(run_measurement(f"cold start: kgtool query {name}",
                                           {"op": "cold", "engine": "kgtool", "args": ["query", name]},
                                           repeat=args.repeat, cap=args.cap, log=log))
    add_ratios(entries)
    return {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
            "settings": {"command": command_line, "sizes": [show_size(s) for s in sizes], "repeat": args.repeat,
                         "cap_seconds": args.cap, "baseline_cap_seconds": args.baseline_cap or args.cap,
                         "seed": args.seed, "baselines_up_to": show_size(baseline_limit) if baseline_limit else "all",
                         "slow_baselines_once_from": show_size(SLOW_AT)},
            "datasets": datasets, "measurements": entries, "targets": targets(entries)}


def add_ratios(entries: list[dict[str, Any]]) -> None:
    """Speed-up of each fast engine over the baseline of the same operation and size."""
    baseline = {(e["operation"], e["size"]): e for e in entries if e["engine"] in BASELINES}
    for entry in entries:
        base = baseline.get((entry["operation"], entry["size"]))
        if entry["engine"] in BASELINES or base is None or entry["median"] is None or not entry["median"]:
            continue
        if base["status"] == "ok" and base["median"] is not None:
            entry["speedup"] = round(base["median"] / entry["median"], 1)
        elif base["status"] == "timeout":
            entry["speedup_at_least"] = round(base["cap"] / entry["median"], 1)


def _shown(entry: dict[str, Any]) -> str:
    if entry["status"] == "timeout":
        return f"> {entry['cap']:.0f} s"
    return f"{entry['median']:.3f} s" if entry["status"] == "ok" else entry["status"]


def _same_results(entries: list[dict[str, Any]]) -> dict[int, bool]:
    """For each size where both engines validated to the end: whether they found the same results."""
    digests: dict[int, dict[str, str]] = {}
    for e in entries:
        if e["operation"] == "validate (after load)" and e["status"] == "ok" and "results_digest" in e["extra"]:
            digests.setdefault(e["size"], {})[e["engine"]] = e["extra"]["results_digest"]
    return {size: found["pySHACL"] == found["SPARQL"] for size, found in digests.items() if len(found) == 2}


def targets(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 7's targets for kgtool's engines, at 1M triples (when measured) and on the shipped graph. Each is
    met, not met, or not measured; a time limit that stopped a measurement fails a time target (shown as
    "> cap") but not the memory target, which is judged on memory alone."""
    at = [e for e in entries if e["size"] == TARGETS_AT and e["engine"] not in BASELINES]
    found: list[dict[str, Any]] = []

    def add(name: str, measured: str | None, met: bool | None) -> None:
        found.append({"target": name, "measured": measured if measured is not None else "not measured",
                      "met": met})

    def slowest(name: str, chosen: list[dict[str, Any]], limit: float) -> None:
        chosen = [e for e in chosen if e["status"] != "skipped"]
        if not chosen:
            return add(name, None, None)
        failed = [e for e in chosen if e["status"] != "ok"]
        worst = failed[0] if failed else max(chosen, key=lambda e: e["median"])
        label = f" ({worst['operation']})" if len(chosen) > 1 else ""
        add(name, _shown(worst) + label, not failed and worst["median"] <= limit)

    if at:
        slowest("load <= 5 s (N-Triples)", [e for e in at if e["operation"] == "load N-Triples"], 5)
        slowest("load <= 5 s (Turtle)", [e for e in at if e["operation"] == "load Turtle"], 5)
        slowest("every saved query <= 1 s", [e for e in at if e["operation"].startswith("query ")], 1)
        slowest("validation <= 3 s after load (SPARQL engine)",
                [e for e in at if e["operation"] == "validate (after load)"], 3)
        slowest("Turtle export <= 5 s", [e for e in at if e["operation"] == "export Turtle"], 5)
        memory = [e for e in at if e["rss_mb"] is not None]
        if memory:
            top = max(memory, key=lambda e: e["rss_mb"])
            add("peak RSS <= 2 GB (every kgtool measurement)", f"{top['rss_mb']:.0f} MB ({top['operation']})",
                top["rss_mb"] <= 2048)
        else:
            add("peak RSS <= 2 GB (every kgtool measurement)", None, None)
        fast = next((e for e in at if e["operation"] == "validate (after load)" and e["status"] == "ok"), None)
        slow = next((e for e in entries if e["size"] == TARGETS_AT and e["engine"] == "pySHACL"), None)
        if fast is None or slow is None or slow["status"] == "skipped":
            add("validation >= 25x faster than pySHACL", None, None)
        elif "speedup" in fast:
            add("validation >= 25x faster than pySHACL", f"{fast['speedup']}x", fast["speedup"] >= 25)
        else:
            bound = fast.get("speedup_at_least")
            add("validation >= 25x faster than pySHACL", f"> {bound}x (pySHACL stopped at {slow['cap']:.0f} s)",
                True if bound is not None and bound >= 25 else None)
        if fast is None:
            add("validation results identical to pySHACL's", None, None)
        elif slow is not None and slow["status"] == "ok":
            same = fast["extra"].get("results_digest") == slow["extra"].get("results_digest")
            add("validation results identical to pySHACL's", "identical (focus, path, component, severity)"
                if same else "different", same)
        else:
            smaller = [size for size, same in sorted(_same_results(entries).items()) if size < TARGETS_AT]
            where = f"; identical to pySHACL's at {', '.join(show_size(s) for s in smaller)}" if smaller else ""
            planted = bool(fast["extra"].get("as_planted"))
            add("validation results identical to pySHACL's",
                f"pySHACL stopped at {slow['cap']:.0f} s at 1M; the SPARQL engine's results are "
                + ("" if planted else "not ") + "exactly the planted ones" + where,
                None if planted else False)
    shipped = [e for e in entries if e["size"] is None]
    slowest("kgtool build <= 2 s cold", [e for e in shipped if e["operation"] == "cold start: kgtool build"], 2)
    slowest("kgtool --help <= 0.3 s", [e for e in shipped if e["operation"] == "cold start: kgtool --help"], 0.3)
    slowest("kgtool query NAME <= 1 s cold (every saved query)",
            [e for e in shipped if e["operation"].startswith("cold start: kgtool query")], 1)
    for operation in ("load N-Triples", "load Turtle", "validate (after load)", "export Turtle"):
        small = next((e for e in entries if e["size"] == 100_000 and e["operation"] == operation
                      and e["engine"] not in BASELINES), None)
        large = next((e for e in at if e["operation"] == operation), None)
        name = f"{operation}: 100k -> 1M grows <= 12x"
        if small is None or large is None:
            if at:
                add(name, None, None)
        elif small["status"] != "ok" or large["status"] != "ok":
            add(name, f"100k {_shown(small)}, 1M {_shown(large)}", False)
        else:
            ratio = large["median"] / small["median"]
            add(name, f"{ratio:.1f}x ({small['median']:.3f} s -> {large['median']:.3f} s)", ratio <= 12)
    return found


# ------------------------------------------------------------------------------------------------ output

MET = {True: "yes", False: "**no**", None: "unknown"}


def targets_table(found: list[dict[str, Any]]) -> list[str]:
    lines = ["## Targets of issue 7", "", "| target | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {t['target']} | {t['measured']} | {MET[t['met']]} |" for t in found]
    return lines + [""]


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["# kgtool benchmarks", "",
             f"Generated {result['generated']} by `python bench/run.py` "
             f"(sizes {', '.join(result['settings']['sizes'])}, repeat {result['settings']['repeat']}, "
             f"cap {result['settings']['cap_seconds']:.0f} s, for the baselines "
             f"{result['settings']['baseline_cap_seconds']:.0f} s, seed {result['settings']['seed']}; rdflib and pySHACL "
             f"run once from {result['settings']['slow_baselines_once_from']} triples up).", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; Python {m['python']}, "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + (f"; commit {m['commit']}" if m["commit"]
                                                                         else "") + ".", "",
             "Times are the operation alone in a fresh process (median, min, max over the runs); cold starts are the "
             "whole command. Peak RSS is the measuring process's, read by its parent with "
             "`getrusage(RUSAGE_CHILDREN)`. Speed-up is the baseline's median over the fast engine's.", ""]
    for size in result["settings"]["sizes"] + [None]:
        lines += size_table(result, size)
    if result["targets"]:
        lines += targets_table(result["targets"])
    return "\n".join(lines)


def size_table(result: dict[str, Any], size: str | None) -> list[str]:
    """The measurements at one size (None: the shipped graph and the command line) as a Markdown table."""
    chosen = [e for e in result["measurements"] if (e["size"] is None if size is None
                                                    else e["size"] == parse_size(size))]
    if not chosen:
        return []
    if size is None:
        lines = ["## The shipped graph and the command line", ""]
    else:
        info = result["datasets"].get(size, {})
        lines = [f"## {size} triples ({info.get('triples', '?')} in the synthetic graph, "
                 f"{info.get('planted_results', '?')} planted SHACL results)", ""]
    lines += ["| operation | engine | median s | min s | max s | peak RSS MB | speed-up | notes |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for e in chosen:
        if e["status"] == "timeout":
            median = f"> {e['cap']:.0f}"
        elif e["status"] != "ok":
            median = e["status"]
        else:
            median = f"{e['median']:.3f}"
        low = f"{e['min']:.3f}" if e["min"] is not None else ""
        high = f"{e['max']:.3f}" if e["max"] is not None else ""
        rss = f"{e['rss_mb']:.0f}" if e["rss_mb"] is not None else ""
        speed = f"{e['speedup']}x" if "speedup" in e else (f"> {e['speedup_at_least']}x"
                                                           if "speedup_at_least" in e else "")
        notes = ", ".join(f"{k} {v}" for k, v in e["extra"].items() if k not in ("error", "results_digest"))
        if "error" in e["extra"]:
            notes += f" error: {e['extra']['error'][-120:]}"
        lines.append(f"| {e['operation']} | {e['engine']} | {median} | {low} | {high} | {rss} | {speed} | "
                     f"{notes} |")
    return lines + [""]


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(readme: Path, result: dict[str, Any]) -> None:
    """Put the machine, the largest size's table and the targets between the README's bench markers."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme}: no {README_START} ... {README_END} block to fill")
    m = result["machine"]
    largest = result["settings"]["sizes"][-1]
    block = [README_START, "",
             f"Latest run: {result['generated'][:10]}, commit {m['commit']}, on {m['cpu']} ({m['cores']} cores, "
             f"{m['ram_gb']} GB RAM), Python {m['python']}; `python bench/run.py "
             + " ".join(result["settings"].get("command", [])) + "`. Medians of "
             f"{result['settings']['repeat']} runs, each in a fresh process; the baselines run once from "
             f"{result['settings']['slow_baselines_once_from']} triples up. Every size is in "
             "[bench/results/latest.md](bench/results/latest.md).", ""]
    block += [line.replace("## ", "#### ", 1) if line.startswith("## ") else line
              for line in size_table(result, largest) + size_table(result, None) + targets_table(result["targets"])]
    block.append(README_END)
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    from kgtool.rdfio import write_atomic

    write_atomic(readme, (before + "\n".join(block) + after).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated sizes (10k, 100k, 2000, 1m)")
    parser.add_argument("--with-1m", action="store_true", help="also measure 1M triples (and check the targets)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds before a measurement is stopped")
    parser.add_argument("--no-rdflib-baseline-above", metavar="SIZE",
                        help="skip the rdflib and pySHACL baselines above this size")
    parser.add_argument("--queries", help="only these saved queries (comma-separated names)")
    parser.add_argument("--skip", help="skip these parts: build, cold")
    parser.add_argument("--baseline-cap", type=float,
                        help="seconds before a baseline (rdflib, pySHACL) measurement is stopped (default: --cap)")
    parser.add_argument("--update-readme", action="store_true",
                        help="also write the machine, the largest size's table and the targets into README.md")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output-dir", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--workdir", default=str(ROOT / "bench" / ".work"), help="where the synthetic graphs go")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(work(json.loads(args.worker))))
        return 0
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure), args.cap)))
        return 0
    result = suite(args, list(sys.argv[1:] if argv is None else argv))
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "latest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (output / "latest.md").write_text(markdown(result), encoding="utf-8")
    print(f"wrote {output / 'latest.md'} and {output / 'latest.json'}", file=sys.stderr)
    if args.update_readme:
        update_readme(ROOT / "README.md", result)
        print(f"wrote the table into {ROOT / 'README.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
