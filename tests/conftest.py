"""Shared fixtures: the project, one build of it, copies to break, and an offline guard."""
from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from pathlib import Path
from typing import Any, NoReturn

import pytest

from kgtool.build import BuildResult, build
from kgtool.config import Project

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build caches (kgtool.cache) go to a folder of this test session, never into the checkout."""
    folder = tmp_path_factory.mktemp("kgtool-cache")
    os.environ["KGTOOL_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture(scope="session")
def built(project: Project) -> BuildResult:
    return build(project)


@pytest.fixture()
def project_copy(tmp_path: Path) -> Project:
    """A writable copy of the project's inputs, for tests that break them."""
    for folder in ("ontology", "data", "corpus", "queries"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    return Project(tmp_path)


def missing(component: str, install_hint: str) -> NoReturn:
    """A real component is missing: a failure under CI=true (CI never skips one), a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{component} is required in CI ({install_hint})")
    pytest.skip(f"no {component} on this machine ({install_hint}); CI never skips this")


@pytest.fixture()
def require_java() -> None:
    """The reasoner needs Java: a failure under CI=true, a skip elsewhere."""
    if shutil.which("java") is None:
        missing("Java", "scripts/setup.sh installs it")


@pytest.fixture()
def require_rapper() -> str:
    """Raptor's `rapper` checks exports with a parser we did not write: a failure under CI=true, a skip elsewhere."""
    rapper = shutil.which("rapper")
    if rapper is None:
        missing("rapper", "scripts/setup.sh installs raptor2-utils")
    return rapper


class NetworkUsed(AssertionError):
    """A test tried to reach a host other than this machine."""


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_local(host: object) -> bool:
    """Whether a host (a name, an address, or None as getaddrinfo takes it) is this machine: a loopback
    name or address, or the wildcard addresses a server binds to. Never resolves anything."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name in ("", "0.0.0.0", "::") or name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the network: a connection to, a datagram to, or a name lookup of any host but
    this machine (loopback, Unix sockets) raises NetworkUsed before anything is sent or resolved.

    The guard patches Python's socket module in the test process only (socket.socket.connect,
    connect_ex and sendto; socket.getaddrinfo, gethostbyname and gethostbyname_ex): it does not see
    child processes (the JVM of the reasoner, subprocesses, a browser), nor native code that opens
    sockets itself (Rust, C), nor code that took a reference to those functions before it ran."""
    real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex

    def check(sock: socket.socket | None, address: object, what: str) -> None:
        if sock is not None and sock.family == getattr(socket, "AF_UNIX", None):
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if not is_local(host):
            raise NetworkUsed(f"a test tried to reach the network ({what}): {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address, "connect")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address, "connect_ex")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *rest: Any) -> int:
        check(self, rest[-1] if rest else None, "sendto")
        return real_sendto(self, data, *rest)  # type: ignore[arg-type]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check(None, host, "getaddrinfo")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        check(None, host, "gethostbyname")
        return real_gethostbyname(host)

    def gethostbyname_ex(host: str) -> Any:
        check(None, host, "gethostbyname_ex")
        return real_gethostbyname_ex(host)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
    monkeypatch.setattr(socket, "gethostbyname_ex", gethostbyname_ex)


@pytest.fixture(scope="module")
def virtuoso() -> "Iterator[VirtuosoServer]":  # noqa: F821 (names imported below)
    """A private Virtuoso (tests/virtuoso.py) for each test module, on a fresh database, stopped by its PID
    at the end: what one module loads cannot change the plans Virtuoso picks for another's queries (with
    a synthetic graph loaded beside the shipped one, Virtuoso 7.2.5 dropped a variable from a saved
    query's rows and ran out of memory on another). A failure under CI=true when Virtuoso is missing, a
    skip elsewhere."""
    import tempfile

    from .virtuoso import VirtuosoServer, find_virtuoso, start_virtuoso

    if find_virtuoso() is None:
        missing("Virtuoso", "scripts/install-virtuoso.sh installs it")
    root = Path(tempfile.mkdtemp(prefix="kgtool-virtuoso-"))
    try:
        server: VirtuosoServer = start_virtuoso(root)
    except RuntimeError as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start a private Virtuoso: {error}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
