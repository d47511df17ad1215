"""``ocpi-hub serve --workers N``: a small supervisor in place of Hypercorn's.

The parent binds the socket, starts N worker processes that inherit it (``hub.serving.worker``), and
closes its own copy, so that the listener lives exactly as long as the workers keep it. It relays
SIGTERM/SIGINT to every worker once and then waits for all of them: each worker drains (``/readyz``
503, ``Connection: close``), stops accepting, and finishes its requests in flight on its own
schedule; none is killed because another finished first. A worker that exits unexpectedly stops the
rest the same graceful way. The exit status is 0 only if every worker exited 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger("ocpihub.serving")


def run(workers: int, sock: socket.socket, env: dict[str, str]) -> int:
    fd = sock.fileno()
    processes: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None = None) -> None:
        nonlocal stopping
        # A second signal is relayed too: it ends the workers' drain early.
        log.info("stopping workers" if not stopping else "second signal: ending the drain now",
                 extra={"signal": signal.Signals(signum).name})
        stopping = True
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    # Ctrl-C reaches the whole process group: workers ignore SIGINT and hear it from here, once.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        processes.append(subprocess.Popen([sys.executable, "-m", "hub.serving.worker", str(fd)],
                                          env=env, pass_fds=(fd,)))
    sock.close()
    log.info("workers started", extra={"pids": [p.pid for p in processes]})

    failed = []
    running = list(processes)
    while running:
        time.sleep(0.1)
        for process in [p for p in running if p.poll() is not None]:
            running.remove(process)
            if process.returncode != 0:
                failed.append(process)
                log.error("worker failed", extra={"pid": process.pid, "exit_code": process.returncode})
            elif not stopping:
                log.error("worker exited unasked", extra={"pid": process.pid})
                failed.append(process)
            if failed and not stopping:
                stop(signal.SIGTERM)
    log.info("stopped", extra={"failed_workers": len(failed)})
    return 1 if failed else 0
