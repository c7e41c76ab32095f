"""Doorbells for tests: record the rings, or answer each one at once as a worker would."""

from __future__ import annotations

from collections.abc import Callable

from dispatch.doorbell import Reachability


class Rings(list[tuple[str, tuple[int, ...]]]):
    """Records `(task, ids)` for every ring instead of publishing it."""

    def ring(self, task: str, *ids: int) -> None:
        self.append((task, ids))

    def check(self) -> Reachability:
        return Reachability(True, "recorded")


class Answering:
    """Runs `answer(task, *ids)` in-line for every ring: a worker with no broker between."""

    def __init__(self, answer: Callable[..., None]) -> None:
        self.answer = answer

    def ring(self, task: str, *ids: int) -> None:
        self.answer(task, *ids)

    def check(self) -> Reachability:
        return Reachability(True, "in-line")
