"""Worker processes that each listen on a socket of their own (``SO_REUSEPORT``), so that the
kernel spreads new connections over them.

uvicorn's workers share the parent's one listening socket, and the worker that wakes first
accepts every connection pending: a burst of keep-alive connections (a load balancer's pool,
a hall's phones reconnecting) could all land on one worker and stay there while the other
idled. It did in one bench run out of three (GET /health at one core of two; every figure of
that run halved and its tails doubled), and one accept per wake-up (libuv's
``UV_TCP_SINGLE_ACCEPT``) only made it rarer. With a socket per worker the kernel hashes each
connection to one of them: 32 connections split about evenly, whatever the timing.

uvicorn's supervisor (pinned version, ``pyproject.toml``) keeps doing the rest: starting,
health-checking, restarting a worker that died (its replacement binds its own socket again)
and the signals. It builds its workers from ``uvicorn.supervisors.multiprocess.Process``; this
module hands it a ``Process`` whose target binds the worker's socket first.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import multiprocess


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _OwnSocketProcess(multiprocess.Process):
    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        super().target([reuse_port_socket(self.config.host, self.config.port)])


def serve_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` workers under uvicorn's supervisor until interrupted (a port of
    0, which each socket would pick apart, falls back to uvicorn's shared socket)."""
    if config.port == 0:
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()
