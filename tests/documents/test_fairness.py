"""The render process serves people in turn (practitioner.documents.pdf.pool.FairGate): one person's flood of
previews and exports holds another person's PDF for at most the render already in flight."""

from __future__ import annotations

import threading
import time

import pytest

from practitioner.documents.pdf import pool
from practitioner.documents.pdf.pool import FairGate, RenderQueueFull
from tests.documents.test_rendering import TITLE, sample_context


class Turns:
    """A gate held by one owner's turn (a render in flight) while others queue, one by one, in a known order."""

    def __init__(self, gate: FairGate, in_flight: str) -> None:
        self.gate, self.taken, self.threads = gate, [], []
        self.release = threading.Event()
        self._start(in_flight, hold=self.release)
        self._wait(lambda: self.gate._busy)

    def queue(self, *owners: str) -> None:
        """Each owner asks for a turn; return once each is waiting."""
        for owner in owners:
            before = sum(self.gate.waiting().values())
            self._start(owner)
            self._wait(lambda: sum(self.gate.waiting().values()) == before + 1)

    def finish(self) -> list[str]:
        """Let the turn in flight end; the order in which the waiting owners then had theirs."""
        self.release.set()
        for thread in self.threads:
            thread.join(timeout=10)
        return self.taken[1:]

    def _start(self, owner: str, hold: threading.Event | None = None) -> None:
        def take() -> None:
            with self.gate.turn(owner):
                self.taken.append(owner)
                if hold is not None:
                    hold.wait(10)

        thread = threading.Thread(target=take)
        thread.start()
        self.threads.append(thread)

    @staticmethod
    def _wait(condition) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.001)


def test_a_flood_from_one_person_holds_another_for_at_most_one_turn():
    turns = Turns(FairGate(max_waiting_per_owner=20), in_flight="ana")
    turns.queue(*["ana"] * 11, "ben")
    order = turns.finish()
    assert order[0] == "ben", order  # after ana's render in flight, ben's: none of her other eleven first
    assert order.count("ana") == 11


def test_turns_go_round_robin_over_the_people_waiting():
    turns = Turns(FairGate(max_waiting_per_owner=20), in_flight="zed")
    turns.queue("ana", "ana", "ana", "ana", "ben", "ben", "cy")
    assert turns.finish() == ["ana", "ben", "cy", "ana", "ben", "ana", "ana"]


def test_one_person_may_have_only_a_few_renders_waiting():
    gate = FairGate(max_waiting_per_owner=2)
    turns = Turns(gate, in_flight="ana")
    turns.queue("ana", "ana")
    with pytest.raises(RenderQueueFull, match="already have 2 documents waiting"):
        with gate.turn("ana"):
            pass
    turns.queue("ben")  # someone else still gets in line
    assert turns.finish() == ["ben", "ana", "ana"] and gate.waiting() == {} and not gate._busy


def test_the_render_process_serves_another_person_after_at_most_one_render_of_a_flood():
    pool.render_pdf("sample.html", sample_context(), title=TITLE)  # the render process is up and warm
    finished: list[str] = []
    lock = threading.Lock()

    def render(owner: str) -> None:
        pool.render_pdf("sample.html", sample_context(), title=TITLE, owner=owner)
        with lock:
            finished.append(owner)

    flood = [threading.Thread(target=render, args=("user:1",)) for _ in range(pool.MAX_WAITING_PER_OWNER + 1)]
    for thread in flood:
        thread.start()
    deadline = time.monotonic() + 30
    while pool._gate.waiting().get("user:1", 0) < pool.MAX_WAITING_PER_OWNER and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool._gate.waiting() == {"user:1": pool.MAX_WAITING_PER_OWNER}, "one in flight, the rest waiting"
    other = threading.Thread(target=render, args=("user:2",))
    other.start()
    for thread in [*flood, other]:
        thread.join(timeout=120)
    assert len(finished) == pool.MAX_WAITING_PER_OWNER + 2
    assert finished.index("user:2") <= 1, finished
