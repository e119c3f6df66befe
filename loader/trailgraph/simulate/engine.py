"""The pure generator: stories started slot by slot, each 5-minute slot released once it is final.

A story only adds events at or after its start, so once every story starting in slot k has run, slot k
can no longer change and is handed on; memory holds only the hour of sessions still running.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate

from .config import SimConfig
from .emitter import Slice
from .org import Org
from .stories import STORIES, Story
from .timefmt import SLOT
from .world import World

NIGHT_HUMANS = 0.25  # people are a quarter as busy outside 08:00-19:00 UTC; machines never sleep


def _busy(ts: int) -> bool:
    return 8 <= (ts // 3600) % 24 < 19


class Simulation:
    """One deterministic run. Iterate `slices()` once; `world.count` and `world.stories` describe it."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.world = World(config)

    @property
    def org(self) -> Org:
        return self.world.org

    def slices(self) -> Iterator[Slice]:
        cfg, w = self.config, self.world
        start = int(cfg.start.timestamp())
        end = start + cfg.days * 86_400
        first, last = start // SLOT, (end - 1) // SLOT
        stories = [s for s, _, _ in STORIES]
        day = list(accumulate(wt for _, wt, _ in STORIES))
        night = list(accumulate(wt * (NIGHT_HUMANS if human else 1.0) for _, wt, human in STORIES))
        # Spread the event budget over slots, heavier in working hours.
        weights = [1.0 if _busy(s * SLOT) else 0.45 for s in range(first, last + 1)]
        total, done = sum(weights), 0.0
        rng = w.rng
        for slot in range(first, last + 1):
            done += weights[slot - first]
            target = cfg.events * done / total
            lo, hi = max(slot * SLOT, start), min((slot + 1) * SLOT, end)
            while w.out.generated < target:
                t = rng.randrange(lo, hi)
                story: Story = rng.choices(stories, cum_weights=day if _busy(t) else night)[0]
                story(w, t)
            yield w.out.take(slot)
            w.forget_before(slot + 1)
        tail = w.out.last_slot()
        for slot in range(last + 1, (tail if tail is not None else last) + 1):
            yield w.out.take(slot)
