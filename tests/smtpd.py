"""A small real SMTP server on loopback, for tests that follow mail out of Laurels.

It speaks enough SMTP for Python's smtplib (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT;
no TLS, no authentication) and records when each connection was opened and every
message's Message-ID. It takes every message, but refuses recipients whose address
starts with `refused` for good (550) and those starting with `later` for now (451).
It can be told to refuse the sender of its first messages (530, as a server that wants
authentication does) and to take its time over every message.
"""

from __future__ import annotations

import contextlib
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Received:
    connections: list[float] = field(default_factory=list)  # time.time() of each connection
    message_ids: list[str] = field(default_factory=list)  # in order, duplicates included
    lock: threading.Lock = field(default_factory=threading.Lock)

    def distinct(self) -> int:
        with self.lock:
            return len(set(self.message_ids))

    def count(self) -> int:
        with self.lock:
            return len(self.message_ids)


class _Session(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # a client killed mid-session
            self.converse()

    def converse(self) -> None:
        received: Received = self.server.received  # type: ignore[attr-defined]
        with received.lock:
            received.connections.append(time.time())
        self.reply(b"220 test ESMTP")
        taken = 0
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.reply(b"250-test\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb == b"DATA":
                self.reply(b"354 go on")
                self.take_message(received)
                taken += 1
                if taken == self.server.messages_per_connection:  # type: ignore[attr-defined]
                    return  # hang up, as some servers do after so many messages
            elif verb == b"MAIL" and self.sender_refused():
                self.reply(b"530 5.7.0 Authentication required")
            elif verb == b"RCPT" and b"<refused" in line:
                self.reply(b"550 no such mailbox")
            elif verb == b"RCPT" and b"<later" in line:
                self.reply(b"451 try again later")
            elif verb == b"QUIT":
                self.reply(b"221 bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.reply(b"250 OK")

    def sender_refused(self) -> bool:
        """Whether to refuse this MAIL FROM (one of the first `refuse_senders`)."""
        server = self.server
        with server.received.lock:  # type: ignore[attr-defined]
            if server.senders_to_refuse > 0:  # type: ignore[attr-defined]
                server.senders_to_refuse -= 1  # type: ignore[attr-defined]
                return True
        return False

    def take_message(self, received: Received) -> None:
        """Read one message up to its lone "."; a client gone before that (killed
        mid-DATA) delivered nothing, as with a real server."""
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n"):
            if not line:
                raise ConnectionError("the client left in the middle of a message")
            lines.append(line)
        found = MESSAGE_ID.search(b"".join(lines))
        with received.lock:
            received.message_ids.append(found.group(1).decode() if found else "")
        time.sleep(self.server.seconds_per_message)  # type: ignore[attr-defined]
        self.reply(b"250 OK queued")

    def reply(self, text: bytes) -> None:
        self.wfile.write(text + b"\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def smtp_server(
    messages_per_connection: int = 0, refuse_senders: int = 0, seconds_per_message: float = 0
) -> Iterator[tuple[int, Received]]:
    """A running server on 127.0.0.1: its port, and what it has received. With
    `messages_per_connection`, it hangs up after taking that many on one connection; it
    refuses the sender (MAIL FROM) of its first `refuse_senders` messages, and takes
    `seconds_per_message` before it answers that it took a message."""
    server = _Server(("127.0.0.1", 0), _Session)
    server.messages_per_connection = messages_per_connection  # type: ignore[attr-defined]
    server.senders_to_refuse = refuse_senders  # type: ignore[attr-defined]
    server.seconds_per_message = seconds_per_message  # type: ignore[attr-defined]
    server.received = Received()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
