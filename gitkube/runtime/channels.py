"""SSH channels that reach *through* a node: to its Docker socket and to TCP addresses it can see.

paramiko has no public API for ``direct-streamlocal@openssh.com`` (what ``ssh -L x.sock:/remote.sock``
uses). With it, sshd connects the channel straight to a unix socket on the node, so Docker needs no
remote CLI, no login shell and no process per connection. The CHANNEL_OPEN message is built here the
way ``paramiko.Transport.open_channel`` builds it (RFC 4254 §5.1 plus the OpenSSH PROTOCOL file §2.4).

All channel kinds share one opener because paramiko's own has two flaws for us: its default wait is
3600 s, and a channel that opens *after* the caller gave up stays open on the server for the life of
the connection. Here the wait is bounded and a late-opening channel is closed at once.

Failures surface as ``OSError`` subclasses, the way a socket ``connect`` fails, so HTTP clients and
probe code treat a channel exactly like a socket.
"""

from __future__ import annotations

import threading

import paramiko
from paramiko.channel import Channel
from paramiko.common import cMSG_CHANNEL_OPEN
from paramiko.message import Message

STREAMLOCAL = "direct-streamlocal@openssh.com"
DIRECT_TCPIP = "direct-tcpip"

# RFC 4254 §5.1 reason codes
_PROHIBITED = 1


class ChannelOpenFailed(ConnectionRefusedError):
    """sshd answered the CHANNEL_OPEN with a failure (e.g. nothing listens on the socket)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code

    @property
    def prohibited(self) -> bool:
        """sshd's configuration forbids this kind of forwarding (not worth retrying)."""
        return self.code == _PROHIBITED


class _OpenWait(threading.Event):
    """The event paramiko sets when the server answers; closes the channel if nobody waits anymore."""

    def __init__(self, chan: Channel):
        super().__init__()
        self.chan = chan
        self.abandoned = False

    def set(self) -> None:
        super().set()
        if self.abandoned and self.chan.active:
            # we are on paramiko's transport thread, which must not block on sending
            threading.Thread(target=self.chan.close, name="close-late-channel", daemon=True).start()


def open_streamlocal(transport: paramiko.Transport, path: str, timeout: float) -> Channel:
    """A channel connected to the unix socket `path` on the server."""

    def payload(m: Message) -> None:
        m.add_string(path)
        m.add_string("")  # reserved
        m.add_int(0)  # reserved

    return _open(transport, STREAMLOCAL, payload, f"a connection to unix socket {path}", timeout)


def open_direct_tcpip(transport: paramiko.Transport, host: str, port: int, timeout: float) -> Channel:
    """A channel connected to host:port as seen from the server (its routes, its bridges)."""

    def payload(m: Message) -> None:
        m.add_string(host)
        m.add_int(port)
        m.add_string("127.0.0.1")  # originator address: informational only
        m.add_int(0)

    return _open(transport, DIRECT_TCPIP, payload, f"a connection to {host}:{port}", timeout)


def open_session(transport: paramiko.Transport, timeout: float) -> Channel:
    """A session channel, for one remote command (``exec``)."""
    return _open(transport, "session", lambda m: None, "a session", timeout)


def _open(transport: paramiko.Transport, kind: str, payload, what: str, timeout: float) -> Channel:
    if not transport.is_active():
        raise ConnectionAbortedError(f"ssh connection is closed (opening {what})")
    m = Message()
    with transport.lock:  # same steps and order as Transport.open_channel
        window_size = transport._sanitize_window_size(None)
        max_packet_size = transport._sanitize_packet_size(None)
        chanid = transport._next_channel()
        m.add_byte(cMSG_CHANNEL_OPEN)
        m.add_string(kind)
        m.add_int(chanid)
        m.add_int(window_size)
        m.add_int(max_packet_size)
        payload(m)
        chan = Channel(chanid)
        transport._channels.put(chanid, chan)
        transport.channel_events[chanid] = event = _OpenWait(chan)
        transport.channels_seen[chanid] = True
        chan._set_transport(transport)
        chan._set_window(window_size, max_packet_size)
    transport._send_user_message(m)
    if not event.wait(timeout):
        with transport.lock:
            event.abandoned = True
            opened_meanwhile = chan.active
        if opened_meanwhile:
            chan.close()
        raise TimeoutError(f"no answer from sshd opening {what} within {timeout:g} s")
    if chan.active:
        return chan
    if not transport.is_active():
        raise ConnectionAbortedError(f"ssh connection lost while opening {what}")
    saved = transport.get_exception()
    code = saved.code if isinstance(saved, paramiko.ChannelException) else 0
    reason = saved.text if isinstance(saved, paramiko.ChannelException) else "open failed"
    if code == _PROHIBITED:
        reason += f" (sshd forbids {kind} channels: AllowStreamLocalForwarding / AllowTcpForwarding)"
    elif kind == "session":
        reason += " (sshd MaxSessions reached?)"
    raise ChannelOpenFailed(f"sshd could not open {what}: {reason}", code)
