"""Ports for the local pieces: free ones for tests, checked ones for `make dev`."""

from __future__ import annotations

import socket


class PortBusy(RuntimeError):
    """A configured port is taken; the message names the port and the variable that moves it."""


def _busy(port: int, what: str, env_var: str, host: str) -> str:
    return (
        f"port {port} ({what}) is already in use on {host}. Stop whatever holds it "
        f"(`ss -ltnp 'sport = :{port}'` shows it), or set {env_var}=<another port> in .env."
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_free(port: int, *, what: str, env_var: str, host: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortBusy(_busy(port, what, env_var, host)) from exc


def bind_socket(port: int, *, what: str, env_var: str, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on host:port (0 = any free port) for a server to adopt.

    Created with proto=IPPROTO_TCP: asyncio turns on TCP_NODELAY only for sockets that say
    so, and without it every small response waits ~40 ms on Nagle + delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortBusy(_busy(port, what, env_var, host)) from exc
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock
