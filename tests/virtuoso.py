"""A private Virtuoso for the tests: its own database and virtuoso.ini in a temporary folder, HTTP and
SQL ports on 127.0.0.1 only, started in the foreground as a child process and stopped by its PID.

Never touches a system Virtuoso. Used by the session fixture `virtuoso` in conftest.py.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

INI = """\
[Database]
DatabaseFile = {root}/virtuoso.db
ErrorLogFile = {root}/virtuoso.log
LockFile = {root}/virtuoso.lck
TransactionFile = {root}/virtuoso.trx
xa_persistent_file = {root}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {root}/virtuoso-temp.db
TransactionFile = {root}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
ServerThreads = 10
CheckpointInterval = 0
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
DirsAllowed = ., {root}, {root}/load
; the test instance only: raise the cost estimate under which queries are refused outright
MaxQueryCostEstimationTime = 100000

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {root}
ServerThreads = 10
MaxClientConnections = 10
EnabledDavVSP = 0

[SPARQL]
; far above any answer the tests expect, so no saved query is cut short silently
ResultSetMaxRows = 100000
MaxQueryCostEstimationTime = 100000
MaxQueryExecutionTime = 120
DefaultQuery = SELECT * WHERE {{ ?s ?p ?o }} LIMIT 10
"""


def find_virtuoso() -> tuple[str, str] | None:
    """(virtuoso-t, isql) from PATH: Debian names isql `isql-vt`."""
    server = shutil.which("virtuoso-t")
    isql = shutil.which("isql-vt") or shutil.which("isql-v")
    return (server, isql) if server and isql else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class VirtuosoServer:
    root: Path
    http_port: int
    sql_port: int
    process: subprocess.Popen[bytes]
    isql: str
    version: str
    startup_seconds: float

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql"

    @property
    def graph_store(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql-graph-crud"

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "virtuoso.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def sql(self, statement: str) -> str:
        """Run SQL through isql as dba (this private instance's default password)."""
        done = subprocess.run([self.isql, f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={statement}"],
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0 or "*** Error" in done.stdout + done.stderr:
            raise RuntimeError(f"isql failed on {statement!r}: {done.stdout}{done.stderr}")
        return done.stdout

    def stop(self) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it has not exited after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "?query=ASK%20%7B%7D", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_virtuoso(root: Path, *, wait: float = 120) -> VirtuosoServer:
    """Create a database in `root`, start Virtuoso on free loopback ports and wait until its SPARQL
    endpoint answers; then let the anonymous SPARQL user update (this private instance only)."""
    found = find_virtuoso()
    if found is None:
        raise RuntimeError("virtuoso-t or isql-vt is not installed (scripts/install-virtuoso.sh)")
    server_binary, isql = found
    version = subprocess.run([server_binary, "-?"], capture_output=True, text=True, check=False)
    version_line = next((line.strip() for line in (version.stdout + version.stderr).splitlines()
                         if line.strip().startswith("Version")), "unknown version")
    (root / "load").mkdir(parents=True, exist_ok=True)
    http_port, sql_port = free_port(), free_port()
    ini = root / "virtuoso.ini"
    ini.write_text(INI.format(root=root, http_port=http_port, sql_port=sql_port), encoding="utf-8")
    started = time.monotonic()
    with (root / "stdout.log").open("wb") as log:
        process = subprocess.Popen([server_binary, "+foreground", "+configfile", str(ini)], cwd=root,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = VirtuosoServer(root, http_port, sql_port, process, isql, version_line, 0.0)
    url = server.endpoint
    while not _answers(url):
        if process.poll() is not None:
            raise RuntimeError(f"Virtuoso exited with {process.returncode} while starting:\n{server.log_tail()}")
        if time.monotonic() - started > wait:
            server.stop()
            raise RuntimeError(f"Virtuoso did not answer on {url} within {wait:g} s:\n{server.log_tail()}")
        time.sleep(0.1)
    server.startup_seconds = time.monotonic() - started
    server.sql('GRANT SPARQL_UPDATE TO "SPARQL";')
    return server
