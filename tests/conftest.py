"""Shared fixtures: the project, one build of it, copies to break, and an offline guard."""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn

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


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the network: any outbound connection fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")) or self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise AssertionError(f"a test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def virtuoso() -> "Iterator[VirtuosoServer]":  # noqa: F821 (names imported below)
    """A private Virtuoso (tests/virtuoso.py) for the whole session, stopped by its PID at the end.
    A failure under CI=true when Virtuoso is missing, a skip elsewhere."""
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
