"""One worker of ``ocpi-hub serve --workers N``: ``python -m hub.serving.worker FD``.

Configuration comes from the environment the supervisor prepared (``hub.asgi``); the listening socket
is the inherited descriptor FD. SIGINT is ignored (the supervisor relays Ctrl-C as SIGTERM, once).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys

from hub import logs


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.configure("INFO")  # JSON from the first line on; hub.asgi applies OCPI_HUB_LOG_LEVEL
    parent = os.getppid()
    sock = socket.socket(fileno=int(argv[1]))
    try:
        from hub.asgi import app, config
        from hub.serving import server

        server.run(app, config, sock, signals=(signal.SIGTERM,), parent_pid=parent)
    except Exception:
        logging.getLogger("ocpihub.serving").exception("worker failed")
        return 1
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
