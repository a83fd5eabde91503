"""Timepoint windows: which configured window a reported week falls in, and which report
wins when a study has two in one window.

The windows come from the config's ``timepoints`` (``min``, ``max``, ``target`` in weeks):
a report at week ``w`` falls in the window with ``min <= w <= max`` (e.g. a 14- or 16-week
report counts as 12 weeks when the 12-week window is 10-16), and when a study reports
the same instrument at two weeks of one window, the week nearest the target wins (the
earlier week on a tie).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def window_for(weeks: float, timepoints: Mapping) -> str | None:
    """The key of the timepoint window holding ``weeks``, or None.

    When windows overlap, the one whose target (or midpoint) is nearest wins, then the
    first in config order.
    """
    best: tuple[float, int, str] | None = None
    for order, (key, spec) in enumerate(timepoints.items()):
        if spec["min"] <= weeks <= spec["max"]:
            candidate = (abs(weeks - target_of(spec)), order, key)
            if best is None or candidate < best:
                best = candidate
    return best[2] if best else None


def target_of(spec: Mapping) -> float:
    """A window's target week (its midpoint when no target is configured)."""
    target = spec.get("target")
    return float(target) if target is not None else (spec["min"] + spec["max"]) / 2.0


def nearest_week(weeks: Iterable[float], spec: Mapping) -> float:
    """The week nearest the window's target (the earlier one on a tie)."""
    target = target_of(spec)
    return min(weeks, key=lambda w: (abs(w - target), w))
