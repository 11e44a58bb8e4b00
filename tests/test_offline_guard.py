"""The offline guard of conftest.py (`no_network`) fires: before any packet is sent, before any name is
resolved. 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed, so even a guard that failed would send
nothing anyone receives."""
from __future__ import annotations

import socket
import urllib.request

import pytest

from .conftest import NetworkUsed

TEST_NET = ("192.0.2.1", 9)


def never_bound(sock: socket.socket) -> bool:
    """A connect, even one that fails or is still under way, gives the socket a local port first: a socket
    still at port 0 never sent a SYN."""
    return sock.getsockname()[1] == 0


@pytest.mark.parametrize("method", ["connect", "connect_ex"])
def test_a_connection_to_another_host_is_refused_before_it_starts(method: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)  # a real connect would return at once, in progress, with a port taken
        with pytest.raises(NetworkUsed, match="192.0.2.1"):
            getattr(sock, method)(TEST_NET)
        assert never_bound(sock)


def test_a_datagram_to_another_host_is_refused_before_it_is_sent() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(NetworkUsed, match="192.0.2.1"):
            sock.sendto(b"x", TEST_NET)
        assert never_bound(sock)


@pytest.mark.parametrize("lookup", [
    lambda: socket.getaddrinfo("example.org", 80),
    lambda: socket.getaddrinfo("192.0.2.1", 80),
    lambda: socket.gethostbyname("example.org"),
    lambda: socket.create_connection(TEST_NET, timeout=1),
    lambda: urllib.request.urlopen("http://example.org/", timeout=1),  # noqa: S310 (the point is that it fails)
], ids=["getaddrinfo-name", "getaddrinfo-address", "gethostbyname", "create_connection", "urlopen"])
def test_names_of_other_hosts_are_never_resolved(lookup: object) -> None:
    with pytest.raises(NetworkUsed, match="reach the network"):
        lookup()  # type: ignore[operator]


def test_this_machine_stays_reachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert socket.getaddrinfo("localhost", port)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            accepted, _ = server.accept()
            accepted.close()
