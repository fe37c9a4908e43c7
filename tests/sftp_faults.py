"""Fault injection for SFTP tests: kill the real sshd while a transfer is in flight, or
cut connections while they log in."""

from __future__ import annotations

import socket
import struct
import threading
import time


class Killer:
    """Kills sshd (and every connection) from a thread once a transfer is under way, and
    starts it again after ``downtime`` seconds unless ``downtime`` is None.

    The kill fires when a transfer of ``path`` (any path when None) is partly done and, with
    ``at``, has passed ``at`` bytes. Pass :meth:`progress` as the location's progress hook.
    """

    def __init__(
        self, sshd, *, path: str | None = None, at: int = 1, downtime: float | None = None
    ) -> None:
        self.sshd, self.path, self.at, self.downtime = sshd, path, at, downtime
        self.trigger, self.killed = threading.Event(), threading.Event()
        self.seen: list[tuple[int, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def progress(self, path: str, done: int, total: int) -> None:
        if self.path is not None and path != self.path:
            return
        self.seen.append((done, total))
        if self.at <= done < total and not self.trigger.is_set():
            self.trigger.set()
            self.killed.wait(15)  # the kill lands while this transfer is still open

    def _run(self) -> None:
        if not self.trigger.wait(120):
            return
        self.sshd.stop()
        self.killed.set()
        if self.downtime is not None:
            time.sleep(self.downtime)
            self.sshd.start()

    def join(self) -> None:
        self.trigger.set()  # never triggered: let the thread end
        self.thread.join(30)


class LoginDropper:
    """A TCP proxy in front of sshd that cuts the first ``drops`` connections the moment the
    client, its key exchange done, starts to log in (its first encrypted packet): a
    connection lost during login, as on a flaky network or an overloaded server.

    ``reset``: cut with a TCP reset instead of a plain close (EOF). Later connections are
    passed through untouched.
    """

    NEWKEYS = 21  # SSH_MSG_NEWKEYS: the last packet in the clear

    def __init__(self, port: int, drops: int, *, reset: bool = False) -> None:
        self.target = ("127.0.0.1", port)
        self.remaining, self.reset = drops, reset
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            drop = self.remaining > 0
            self.remaining -= drop
            threading.Thread(target=self._serve, args=(client, drop), daemon=True).start()

    def _serve(self, client: socket.socket, drop: bool) -> None:
        server = socket.create_connection(self.target)
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        if not drop:
            self._pump(client, server)
            return
        buf, banner_done = b"", False
        while True:
            data = client.recv(65536)
            if not data:
                break
            buf += data
            if not banner_done:  # "SSH-2.0-...\r\n"
                if b"\n" not in buf:
                    continue
                line, buf = buf.split(b"\n", 1)
                server.sendall(line + b"\n")
                banner_done = True
            while len(buf) >= 6:  # uint32 length, padding length, message type, ...
                size = 4 + int.from_bytes(buf[:4], "big")
                if len(buf) < size:
                    break
                packet, buf = buf[:size], buf[size:]
                server.sendall(packet)
                if packet[5] == self.NEWKEYS:
                    self._cut(client, server, started=bool(buf))
                    return

    def _cut(self, client: socket.socket, server: socket.socket, started: bool) -> None:
        """Close both sides once the client sends its first encrypted packet."""
        if not started:
            client.recv(1)  # the login starts (SERVICE_REQUEST "ssh-userauth")
        self.dropped += 1
        server.close()
        if self.reset:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:  # a clean end of stream: FIN, then read what the client still sends (no RST)
            client.shutdown(socket.SHUT_WR)
            client.settimeout(10)
            try:
                while client.recv(65536):
                    pass
            except OSError:
                pass
        client.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
