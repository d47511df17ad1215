"""The listening socket: a busy port is named, and closing it resets no connection a client made."""

from __future__ import annotations

import asyncio
import errno
import socket
import sys

import pytest

from hub.serving import listener

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="socket filter and TCP_INFO are Linux's")


def test_a_busy_port_is_named() -> None:
    first = listener.bind("127.0.0.1", 0)
    port = first.getsockname()[1]
    try:
        with pytest.raises(listener.PortBusyError, match=f"port {port} on 127.0.0.1 is already in use"):
            listener.bind("127.0.0.1", port)
    finally:
        first.close()


@linux_only
@pytest.mark.anyio
async def test_stop_accepting_takes_every_queued_connection_and_lets_no_new_one_in() -> None:
    sock = listener.bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]  # queued: nobody accepts yet
    assert listener.accept_queue_length(sock) == 3
    accepted: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(await reader.read(100))
        writer.close()

    for client in clients:
        client.sendall(b"request")
    server = await asyncio.start_server(handle, sock=sock)
    await listener.stop_accepting(sock)
    assert listener.accept_queue_length(sock) == 0
    late = socket.socket()
    late.setblocking(False)
    assert late.connect_ex(("127.0.0.1", port)) == errno.EINPROGRESS
    await asyncio.sleep(0.2)
    assert late.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and listener.accept_queue_length(sock) == 0, \
        "the new attempt is neither refused nor queued: its SYN was dropped"
    server.close()
    sock.close()
    await server.wait_closed()
    await asyncio.sleep(0.1)
    assert accepted == [b"request"] * 3, "every queued connection was served, none reset"
    for client in (*clients, late):
        client.close()
