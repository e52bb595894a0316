"""WebSocketSession with a fake clock and a fake hub: pings, timeouts, back-pressure, delivery."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_frames import Frame, FrameParser, Opcode, Role, encode_frame
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.websocket_owner import SessionState, SessionTimes, WebSocketClosed
from barehttp.server.websocket_session import WebSocketSession

WRITE_TIMEOUT_S = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeHub:
    """Keeps dispatched jobs for ``run_jobs`` (the pool); records what the session asked."""

    def __init__(self) -> None:
        self.rearms = 0
        self.forgotten = False
        self.jobs: list[Callable[[], None]] = []

    def run_jobs(self) -> None:
        while self.jobs:
            self.jobs.pop(0)()

    def rearm(self, session: WebSocketSession) -> None:
        self.rearms += 1

    def forget(self, session: WebSocketSession) -> None:
        self.forgotten = True

    def dispatch(self, job: Callable[[], None]) -> None:
        self.jobs.append(job)  # called with the session's lock held, as the pool would be

    def read_soon(self, session: WebSocketSession) -> None:
        pass


class Peer:
    """The client end of a socketpair: masked frames out, frames in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = FrameParser(Role.CLIENT, max_frame_bytes=1 << 24)

    def send(self, opcode: Opcode, payload: bytes = b"") -> None:
        self.sock.sendall(encode_frame(opcode, payload, mask=os.urandom(4)))

    def frames(self) -> list[Frame]:
        """Every frame the session sent so far (without waiting)."""
        self.sock.setblocking(False)
        try:
            while data := self.sock.recv(65_536):
                self.parser.receive(data)
        except BlockingIOError:
            pass
        found = []
        while (frame := self.parser.next_frame()) is not None:
            found.append(frame)
        return found


class Rig:
    def __init__(self, limits: WebSocketLimits) -> None:
        self.clock = FakeClock()
        self.hub = FakeHub()
        server_end, client_end = socket.socketpair()
        server_end.setblocking(False)
        self.released = False

        def release() -> None:
            server_end.close()
            self.released = True

        self.session = WebSocketSession(
            server_end,
            WebSocketConnection(limits=limits),
            limits,
            SessionTimes(write_timeout_s=WRITE_TIMEOUT_S, clock=self.clock),
            self.hub,
            release,
        )
        self.peer = Peer(client_end)

    def tick(self, seconds: float) -> None:
        self.clock.now += seconds
        self.session.check_time(self.clock.now)

    def deliver(self, opcode: Opcode, payload: bytes = b"") -> None:
        self.peer.send(opcode, payload)
        self.session.on_readable()


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig(WebSocketLimits(ping_interval_s=10, ping_timeout_s=5, close_timeout_s=3))
    yield made
    made.peer.sock.close()
    made.session.abort()


def test_a_quiet_peer_is_pinged_after_the_interval(rig: Rig) -> None:
    rig.tick(9.9)
    assert rig.peer.frames() == []
    rig.tick(0.2)
    assert [frame.opcode for frame in rig.peer.frames()] == [Opcode.PING]


def test_an_unanswered_ping_closes_with_1011_after_the_timeout(rig: Rig) -> None:
    rig.tick(10)
    rig.peer.frames()
    rig.tick(4.9)
    assert not rig.released
    rig.tick(0.2)
    (close,) = rig.peer.frames()
    assert close.opcode is Opcode.CLOSE and close.payload[:2] == (1011).to_bytes(2, "big")
    assert rig.released and rig.hub.forgotten
    assert rig.session.state is SessionState.CLOSED


def test_any_frame_from_the_peer_answers_a_ping(rig: Rig) -> None:
    rig.tick(10)
    rig.peer.frames()
    rig.deliver(Opcode.TEXT, b"busy")  # not a Pong, but proof of life
    rig.tick(6)
    assert not rig.released
    rig.tick(4.1)  # ten seconds after that frame: the next ping
    assert [frame.opcode for frame in rig.peer.frames()] == [Opcode.PING]


def test_our_close_unanswered_drops_tcp_after_the_close_timeout(rig: Rig) -> None:
    closes: list[tuple[int, str]] = []
    rig.session.park(None, lambda code, reason: closes.append((code, reason)))
    rig.session.close(4000, "bye")
    assert rig.peer.frames()[0].opcode is Opcode.CLOSE
    with pytest.raises(WebSocketClosed):
        rig.session.send_text("too late")
    rig.tick(2.9)
    assert not rig.released
    rig.tick(0.2)
    rig.hub.run_jobs()
    assert rig.released and closes == [(4000, "bye")]


def test_our_close_answered_releases_at_once(rig: Rig) -> None:
    rig.session.close(1000)
    rig.deliver(Opcode.CLOSE, (1000).to_bytes(2, "big"))
    assert rig.released


def test_messages_before_the_peers_close_are_received_then_closed(rig: Rig) -> None:
    rig.deliver(Opcode.TEXT, b"one")
    rig.deliver(Opcode.BINARY, b"two")
    rig.deliver(Opcode.CLOSE, (4100).to_bytes(2, "big") + b"gone")
    assert rig.session.receive() == "one"
    assert rig.session.receive() == b"two"
    with pytest.raises(WebSocketClosed) as closed:
        rig.session.receive()
    assert (closed.value.code, closed.value.reason) == (4100, "gone")
    assert rig.peer.frames()[0].payload[:2] == (4100).to_bytes(2, "big")  # echoed (§5.5.1)


def test_reading_pauses_at_max_queued_messages_and_resumes() -> None:
    rig = Rig(WebSocketLimits(max_queued_messages=2))
    rig.deliver(Opcode.TEXT, b"a")
    assert rig.session.wants_read
    rig.deliver(Opcode.TEXT, b"b")
    assert not rig.session.wants_read  # TCP back-pressure until the application reads
    rig.peer.send(Opcode.TEXT, b"c")
    rig.session.on_readable()  # paused: left in the socket
    assert rig.session.receive() == "a"
    assert rig.session.wants_read
    rig.session.on_readable()
    assert [rig.session.receive(), rig.session.receive()] == ["b", "c"]


def test_parked_messages_reach_the_callback_in_order() -> None:
    rig = Rig(WebSocketLimits())
    rig.deliver(Opcode.TEXT, b"early")  # before the handler parked: kept for the callback
    got: list[str | bytes] = []
    rig.session.park(got.append, None)
    rig.deliver(Opcode.TEXT, b"later")
    rig.hub.run_jobs()
    assert got == ["early", "later"]
    with pytest.raises(RuntimeError):
        rig.session.receive()


def test_a_close_before_on_close_is_set_waits_for_it() -> None:
    """A handler sets on_message, then on_close: a close in between is not lost."""
    rig = Rig(WebSocketLimits())
    got: list[str | bytes] = []
    rig.session.park(got.append, None)  # on_message only, so far
    rig.deliver(Opcode.TEXT, b"last")
    rig.deliver(Opcode.CLOSE, (4000).to_bytes(2, "big") + b"gone")
    rig.hub.run_jobs()  # the pool runs before the handler sets on_close
    assert got == ["last"]
    closes: list[tuple[int, str]] = []
    rig.session.park(got.append, lambda code, reason: closes.append((code, reason)))
    rig.hub.run_jobs()
    assert closes == [(4000, "gone")]


def test_a_peer_that_stops_reading_is_dropped_after_the_write_timeout() -> None:
    rig = Rig(WebSocketLimits(max_queued_bytes=64 * 1024 * 1024))
    while not rig.session.wants_write:  # the socket buffers fill; the rest waits in the outbox
        rig.session.send_bytes(b"z" * 65_536)
    rig.tick(WRITE_TIMEOUT_S - 0.1)
    assert not rig.released
    rig.tick(0.2)
    assert rig.released and rig.session.close_code == 1006


def test_more_than_max_queued_bytes_unsent_drops_the_peer() -> None:
    rig = Rig(WebSocketLimits(max_queued_bytes=200_000))
    with pytest.raises(WebSocketClosed) as closed:
        for _ in range(1_000):
            rig.session.send_bytes(b"z" * 65_536)
    assert closed.value.code == 1006 and rig.released


def test_no_ping_while_the_application_is_behind() -> None:
    rig = Rig(WebSocketLimits(max_queued_messages=1, ping_interval_s=10, ping_timeout_s=5))
    rig.deliver(Opcode.TEXT, b"unread")  # reading pauses: the peer's frames wait in TCP
    rig.tick(20)
    rig.tick(20)
    assert rig.peer.frames() == [] and not rig.released
    assert rig.session.receive() == "unread"  # reading resumes; the interval starts again
    rig.tick(10)
    assert [frame.opcode for frame in rig.peer.frames()] == [Opcode.PING]


# An idle session's sweep is lock-free until its next ping is due; anything that
# brings a deadline nearer must end that quiet at once.


def test_an_idle_sessions_sweep_takes_no_lock_until_its_ping_is_due(rig: Rig) -> None:
    rig.tick(1)  # nothing due: quiet until the ping, ten seconds after the last frame
    with rig.session._lock:
        sweep = threading.Thread(target=rig.session.check_time, args=(rig.clock.now + 8.9,))
        sweep.start()
        sweep.join(10)
        assert not sweep.is_alive()  # it would block on the lock held here
    rig.tick(9)
    assert [frame.opcode for frame in rig.peer.frames()] == [Opcode.PING]


def test_a_send_after_a_quiet_sweep_still_has_its_write_timeout() -> None:
    rig = Rig(WebSocketLimits(max_queued_bytes=64 * 1024 * 1024, ping_interval_s=60))
    rig.tick(1)
    while not rig.session.wants_write:
        rig.session.send_bytes(b"z" * 65_536)
    rig.tick(WRITE_TIMEOUT_S + 0.1)
    assert rig.released and rig.session.close_code == 1006


def test_a_close_after_a_quiet_sweep_still_has_its_close_timeout(rig: Rig) -> None:
    rig.tick(1)
    rig.session.close(1000)
    rig.tick(3.1)
    assert rig.released


def test_reading_paused_after_a_quiet_sweep_restarts_the_ping_interval_on_resume() -> None:
    rig = Rig(WebSocketLimits(max_queued_messages=1, ping_interval_s=10, ping_timeout_s=5))
    rig.tick(1)
    rig.deliver(Opcode.TEXT, b"unread")  # reading pauses
    rig.tick(8)  # paused: the interval keeps starting again
    assert rig.session.receive() == "unread"
    rig.tick(2)  # ten seconds after the last frame, but two after reading resumed
    assert rig.peer.frames() == []
    rig.tick(8)
    assert [frame.opcode for frame in rig.peer.frames()] == [Opcode.PING]
