"""Interactive and plain `exec` over the Docker API, for local and SSH-reached engines alike."""

from __future__ import annotations

import os
import select
import sys
import termios
import tty as tty_mod


def run_exec(api, container_id: str, argv: list[str], stdin: bool, tty: bool) -> int:
    exec_id = api.exec_create(container_id, argv, stdin=stdin, tty=tty, stdout=True, stderr=True)["Id"]
    if not stdin:
        for out, err in api.exec_start(exec_id, stream=True, demux=True, tty=tty):
            if out:
                sys.stdout.buffer.write(out)
                sys.stdout.buffer.flush()
            if err:
                sys.stderr.buffer.write(err)
                sys.stderr.buffer.flush()
    else:
        # exec_start(socket=True), but keeping the response alive: on some transports the socket
        # closes once the response object is garbage-collected.
        response = api._post_json(api._url("/exec/{0}/start", exec_id),
                                  headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                                  data={"Tty": tty, "Detach": False}, stream=True)
        sock = api._get_raw_response_socket(response)
        try:
            _pump(getattr(sock, "_sock", sock), tty)
        finally:
            response.close()
    return int(api.exec_inspect(exec_id).get("ExitCode") or 0)


def _pump(sock, tty: bool) -> None:
    """Copy stdin to the exec and its output to stdout until the command ends."""
    stdin_fd = sys.stdin.fileno()
    raw = tty and os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if raw else None
    if raw:
        tty_mod.setraw(stdin_fd)
    try:
        stdin_open = True
        buffer = b""
        while True:
            readers = [sock] + ([stdin_fd] if stdin_open else [])
            ready, _, _ = select.select(readers, [], [], 1.0)
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                if tty:
                    sys.stdout.buffer.write(data)
                else:
                    buffer += data
                    buffer = _demux(buffer)
                sys.stdout.buffer.flush()
            if stdin_open and stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if data:
                    sock.sendall(data)
                else:
                    stdin_open = False
                    _shutdown_write(sock)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
        sock.close()


def _demux(buffer: bytes) -> bytes:
    """Docker multiplexes stdout/stderr without a tty: 8-byte headers (stream, 0, 0, 0, size)."""
    while len(buffer) >= 8:
        size = int.from_bytes(buffer[4:8], "big")
        if len(buffer) < 8 + size:
            break
        stream = sys.stderr.buffer if buffer[0] == 2 else sys.stdout.buffer
        stream.write(buffer[8:8 + size])
        buffer = buffer[8 + size:]
    return buffer


def _shutdown_write(sock) -> None:
    try:
        if hasattr(sock, "shutdown_write"):
            sock.shutdown_write()
        else:
            import socket

            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
