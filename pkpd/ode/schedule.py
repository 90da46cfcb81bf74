"""Per-subject event schedules: bolus, zero-order infusion and state reset.

Events split a subject's timeline into smooth pieces. The solver integrates each piece separately, stops exactly at
every event time, applies the jump (bolus, reset) or changes the constant input rate (infusion), and restarts with a
fresh step-size selection and no cached stages. The state reported at an output time equal to an event time is the
state *after* the event (right-continuous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Event", "Schedule", "BOLUS", "INFUSION", "RESET", "pack_schedules"]

BOLUS, INFUSION, RESET = 0, 1, 2
_KINDS = {"bolus": BOLUS, "infusion": INFUSION, "reset": RESET}


def _finite(x, what: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {v}")
    return v


@dataclass(frozen=True)
class Event:
    """One event on a subject's timeline.

    Attributes
    ----------
    kind : {"bolus", "infusion", "reset"}
        ``bolus`` adds ``value`` to the state at ``time``; ``infusion`` adds a constant input ``value`` (state
        units per time unit) to the state's derivative on ``[time, end)``; ``reset`` sets the state to ``value``.
    time : float
        Event (or infusion start) time, in the system's time unit.
    state : str or int
        The state the event acts on, by name or index.
    value : float
        Amount (bolus), rate (infusion) or new value (reset).
    end : float
        Infusion end time (``nan`` for other kinds).
    """

    kind: str
    time: float
    state: str | int
    value: float
    end: float = math.nan

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"event kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "time", _finite(self.time, f"{self.kind} time"))
        object.__setattr__(self, "value", _finite(self.value, f"{self.kind} value"))
        if self.kind == "infusion":
            end = _finite(self.end, "infusion end")
            if not end > self.time:
                raise ValueError(f"infusion end ({end}) must be later than its start ({self.time})")
            object.__setattr__(self, "end", end)


class Schedule:
    """An immutable, time-sorted list of :class:`Event` for one subject (or shared by all subjects).

    Build it fluently; every method returns a new schedule::

        sched = Schedule().bolus(0.0, "central", 10.0).infusion(2.0, "central", rate=5.0, duration=0.5)
    """

    __slots__ = ("_events",)

    def __init__(self, events=()):
        evs = tuple(events)
        for e in evs:
            if not isinstance(e, Event):
                raise ValueError(f"a Schedule holds Event objects, got {e!r}")
        # stable sort: events at the same time keep the order in which they were given
        self._events = tuple(sorted(evs, key=lambda e: e.time))

    def _then(self, events: tuple) -> "Schedule":
        """This schedule followed by ``events`` (valid :class:`Event`, sorted by time): a concatenation where none
        precedes the last event here, as the stable sort would give, without sorting (a cohort builds several
        schedules per subject, mostly in time order)."""
        if events and self._events and events[0].time < self._events[-1].time:
            return Schedule(self._events + events)
        out = object.__new__(Schedule)
        out._events = self._events + events
        return out

    @property
    def events(self) -> tuple[Event, ...]:
        return self._events

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self):
        return iter(self._events)

    def __add__(self, other: "Schedule") -> "Schedule":
        if isinstance(other, Schedule):
            return self._then(other._events)
        return Schedule(self._events + tuple(other))

    def __eq__(self, other) -> bool:
        return isinstance(other, Schedule) and self._events == other._events

    def __hash__(self) -> int:
        return hash(self._events)

    def __repr__(self) -> str:
        return f"Schedule({list(self._events)!r})"

    def bolus(self, time: float, state, amount: float) -> "Schedule":
        """Add ``amount`` to ``state`` at ``time``."""
        return self._then((Event("bolus", time, state, amount),))

    def infusion(self, start: float, state, *, rate: float | None = None, amount: float | None = None,
                 duration: float | None = None, end: float | None = None) -> "Schedule":
        """A zero-order input into ``state`` from ``start`` for ``duration`` (or until ``end``).

        Give the rate directly, or the total ``amount`` (then ``rate = amount / duration``).
        """
        if (duration is None) == (end is None):
            raise ValueError("infusion needs exactly one of duration or end")
        start = _finite(start, "infusion start")
        end = start + _finite(duration, "infusion duration") if end is None else _finite(end, "infusion end")
        if not end > start:
            raise ValueError(f"infusion duration must be positive, got end {end} <= start {start}")
        if (rate is None) == (amount is None):
            raise ValueError("infusion needs exactly one of rate or amount")
        r = _finite(rate, "infusion rate") if rate is not None else _finite(amount, "infusion amount") / (end - start)
        return self._then((Event("infusion", start, state, r, end),))

    def reset(self, time: float, state, value: float) -> "Schedule":
        """Set ``state`` to ``value`` at ``time``."""
        return self._then((Event("reset", time, state, value),))

    def repeat(self, every: float, times: int) -> "Schedule":
        """This schedule repeated ``times`` times, each copy shifted by ``every`` from the last."""
        if int(times) != times or times < 1:
            raise ValueError(f"times must be a positive integer, got {times!r}")
        every = _finite(every, "every")
        if every <= 0:
            raise ValueError(f"every must be positive, got {every}")
        evs = []
        for k in range(int(times)):
            s = k * every
            evs += [Event(e.kind, e.time + s, e.state, e.value, e.end + s) for e in self._events]
        return Schedule(evs)


def pack_schedules(schedules, state_index, n_subjects: int, t0: float, t_end: float):
    """Pack schedules into the padded arrays the numba kernels read.

    Parameters
    ----------
    schedules : Schedule, sequence of Schedule, or None
        One schedule shared by every subject, or one per subject.
    state_index : callable
        Maps an event's ``state`` (name or index) to an index, raising ``ValueError`` for unknown states.
    n_subjects : int
    t0, t_end : float
        The integration span; an event (or infusion start) outside ``[t0, t_end]`` is an error.

    Returns
    -------
    kind : (R, E) int64
    t_start, t_stop : (R, E) float64
    state : (R, E) int64
    value : (R, E) float64
    count : (R,) int64
        ``R`` is 1 for a shared schedule and ``n_subjects`` otherwise; rows are padded to the longest schedule.
    """
    if schedules is None:
        schedules = Schedule()
    if isinstance(schedules, Schedule):
        rows = [schedules]
    else:
        rows = list(schedules)
        if len(rows) != n_subjects:
            raise ValueError(f"schedule must be one Schedule or one per subject: got {len(rows)} schedules "
                             f"for {n_subjects} subjects")
        for i, s in enumerate(rows):
            if not isinstance(s, Schedule):
                raise ValueError(f"schedule[{i}] must be a Schedule, got {type(s).__name__}")
    width = max(1, max(len(s) for s in rows))
    R = len(rows)
    kind = np.zeros((R, width), np.int64)
    t_start = np.zeros((R, width))
    t_stop = np.full((R, width), np.nan)
    state = np.zeros((R, width), np.int64)
    value = np.zeros((R, width))
    count = np.zeros(R, np.int64)
    for r, s in enumerate(rows):
        for k, e in enumerate(s):
            def where():  # built only for an error message: packing a million events stays cheap
                return (f"schedule[{r}] " if R > 1 else "schedule ") + f"event {k} ({e.kind} at t={e.time:g})"

            if not (t0 <= e.time <= t_end):
                raise ValueError(f"{where()} lies outside the time span [{t0:g}, {t_end:g}] of t_eval")
            try:
                idx = state_index(e.state)
            except ValueError as err:
                raise ValueError(f"{where()}: {err}") from None
            kind[r, k] = _KINDS[e.kind]
            t_start[r, k] = e.time
            t_stop[r, k] = e.end
            state[r, k] = idx
            value[r, k] = e.value
        count[r] = len(s)
    return kind, t_start, t_stop, state, value, count
