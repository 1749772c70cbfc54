"""Serve the app with several daphne processes on one port.

    python -m dropmate.serve [--workers N] [-b 0.0.0.0] [-p 8000] [-- extra daphne options]

One daphne process runs on one core (Python's GIL). Each worker gets its own listening
socket bound with SO_REUSEPORT to the same address, so the kernel spreads new connections
over them. Workers share everything else through PostgreSQL and Redis (the channel layer
delivers a group message to sockets in every process). A worker that dies is started again
(at most once every 2 s); SIGTERM or SIGINT stops them all (killed after 8 s), and they
also stop when the launcher itself is killed.

Without REDIS_URL the channel layer is in-memory, which only reaches sockets in the same
process: then one worker is used, whatever --workers says.
"""

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAPHNE = Path(sys.executable).with_name("daphne")
# Seconds a worker gets to close its sockets on SIGTERM before it is killed.
GRACE_S = 8.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a worker, before exec: get SIGTERM when this launcher dies, however it dies."""
    # Not Linux: no prctl, and the launcher's own SIGTERM handling remains.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def default_workers() -> int:
    return int(os.environ.get("WEB_CONCURRENCY") or min(os.cpu_count() or 1, 4))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=None, help="daphne processes")
    parser.add_argument("-b", "--bind", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=8000)
    parser.add_argument("--app", default="dropmate.asgi:application")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    workers = args.workers or default_workers()
    if not os.environ.get("REDIS_URL") and workers > 1:
        print("serve: no REDIS_URL, so the channel layer is in-memory: using 1 worker")
        workers = 1
    sockets = [listening_socket(args.bind, args.port) for _ in range(workers)]
    print(f"serve: {workers} daphne worker(s) on http://{args.bind}:{args.port}", flush=True)

    def start(sock: socket.socket) -> subprocess.Popen:
        fd = sock.fileno()
        return subprocess.Popen(
            [str(DAPHNE), "--fd", str(fd), *extra, args.app],
            pass_fds=(fd,),
            close_fds=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads in this launcher)
        )

    children = [start(sock) for sock in sockets]
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    last_start = [time.monotonic()] * workers
    while True:
        time.sleep(0.2)
        if stopping:
            deadline = time.monotonic() + GRACE_S
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            return 0
        for i, child in enumerate(children):
            code = child.poll()
            if code is None:
                continue
            wait = last_start[i] + 2 - time.monotonic()
            if wait > 0:
                continue
            print(f"serve: worker {child.pid} exited ({code}); starting another", flush=True)
            children[i] = start(sockets[i])
            last_start[i] = time.monotonic()


if __name__ == "__main__":
    sys.exit(main())
