"""The listening socket: bound before anything is printed, and closed without resetting a connection
a client already opened.

Closing a listening socket resets every connection still waiting in its accept queue, and a client may
already have written its request on one of them. So the hub first makes the kernel drop new
connection attempts (a socket filter that discards SYN segments: the client retries its SYN and, once
the socket is closed, is refused; nothing was sent), then accepts what is queued, then closes.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import socket
import struct
import sys


class PortBusyError(Exception):
    """The address is in use: another process listens there."""


def bind(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket for ``host:port``; :class:`PortBusyError` if taken.

    Listening at once (bound alone, a second process could bind the same port too): connections made
    while the hub starts wait in the queue and are served once it is ready."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Lets a restarted hub bind while old connections linger in TIME_WAIT; on Linux it does not
        # let two processes listen on one port (no SO_REUSEPORT here).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortBusyError(f"port {port} on {host} is already in use") from None
        raise
    sock.set_inheritable(True)
    return sock


# Classic BPF: load the TCP flags byte (a TCP socket filter sees the segment from its TCP header on),
# drop the segment if SYN is set, accept anything else (handshakes already under way complete).
_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
_DROP_SYN = ((0x30, 0, 0, 13), (0x45, 0, 1, 0x02), (0x06, 0, 0, 0), (0x06, 0, 0, 0xFFFFFFFF))


class _Instruction(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))


class _Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Instruction)))


def refuse_new_connections(sock: socket.socket) -> bool:
    """Make the kernel ignore new connection attempts on ``sock`` (Linux); False where unsupported.

    The filter belongs to the socket, not the descriptor: every worker sharing it is covered."""
    if not sys.platform.startswith("linux"):
        return False
    instructions = (_Instruction * len(_DROP_SYN))(*(_Instruction(*i) for i in _DROP_SYN))
    program = _Program(len(_DROP_SYN), ctypes.cast(instructions, ctypes.POINTER(_Instruction)))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, bytes(program))
    except OSError:
        return False
    return True


def accept_queue_length(sock: socket.socket) -> int | None:
    """Connections the kernel completed that nobody accepted yet (Linux: ``tcpi_unacked`` of a
    listening socket); None where the kernel does not say."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except (OSError, AttributeError):
        return None
    return int(struct.unpack_from("I", info, 24)[0])


async def stop_accepting(sock: socket.socket, *, settle: float = 0.05, limit: float = 2.0) -> None:
    """Refuse new connections, then wait (at most ``limit`` seconds) until the server has accepted
    every connection already queued. The caller closes the socket afterwards."""
    loop = asyncio.get_running_loop()
    filtered = refuse_new_connections(sock)
    deadline = loop.time() + limit
    await asyncio.sleep(settle)  # handshakes under way complete, the server's accept loop runs
    while filtered and loop.time() < deadline and accept_queue_length(sock):
        await asyncio.sleep(0.005)
