"""The multi-board flags are core flags: ``Rep.from_dict`` / ``FlagEvent.from_dict`` take
them, while a single-board session's numbers keep exactly their documented keys.

Ground truth: the flag names and the ``flag_counts`` keys documented for the JSON output
(docs/MULTI_SENSOR.md "Events", README's replay --json keys), typed in here, not taken
from the code under test.
"""

from __future__ import annotations

import pytest

from imu_host.core import events
from imu_host.core.events import FlagEvent, Rep
from imu_host.core.stats import summarize

REP = {"index": 1, "side": "left", "start_s": 1.0, "peak_s": 2.0, "end_s": 4.0,
       "rom_deg": 40.0, "descent_s": 1.0, "hold_s": 1.0, "return_s": 1.0,
       "peak_descent_dps": 30.0, "peak_return_dps": 30.0}  # fmt: skip

SINGLE_BOARD_FLAG_KEYS = {"fast_drop", "bounce", "fast_return", "partial"}


@pytest.mark.parametrize(
    "flags", [["knees_apart"], ["shoulder_lift"], ["fast_drop", "knees_apart", "shoulder_lift"]]
)
def test_rep_from_dict_takes_the_multi_board_flags(flags):
    rep = Rep.from_dict({**REP, "flags": flags})
    assert rep.flags == tuple(flags)
    assert Rep.from_dict(rep.to_dict()) == rep


@pytest.mark.parametrize("kind", ["knees_apart", "shoulder_lift"])
def test_flag_event_from_dict_takes_the_multi_board_cues(kind):
    d = {"event": "flag", "t_s": 3.5, "kind": kind, "side": "right", "value": 14.2}
    ev = FlagEvent.from_dict(d)
    assert (ev.kind, ev.side, ev.value) == (kind, "right", 14.2)
    assert ev.to_dict() == d


def test_unknown_flags_are_still_refused_naming_the_field():
    with pytest.raises(ValueError, match="field 'flags'.*knees_apart.*shoulder_lift"):
        Rep.from_dict({**REP, "flags": ["knees_wide"]})
    with pytest.raises(ValueError, match="field 'kind'"):
        FlagEvent.from_dict({"t_s": 1.0, "kind": "shoulders", "side": "left"})


def test_the_names_are_the_documented_strings():
    assert (events.KNEES_APART, events.SHOULDER_LIFT) == ("knees_apart", "shoulder_lift")
    assert events.MULTI_FLAGS == ("knees_apart", "shoulder_lift")
    assert set(events.KNOWN_FLAGS) == SINGLE_BOARD_FLAG_KEYS | {"knees_apart", "shoulder_lift"}


def test_single_board_flag_counts_keep_their_keys():
    """A single-board summary (replay --json, golden outputs) has the four flag keys only;
    a multi-board rep's flags still count under their own names where they are counted."""
    reps = [Rep.from_dict({**REP, "flags": ["fast_drop"]})]
    assert set(summarize(reps, 10.0, [])["flag_counts"]) == SINGLE_BOARD_FLAG_KEYS
    multi = [Rep.from_dict({**REP, "flags": ["fast_drop", "knees_apart"]})]
    fc = summarize(multi, 10.0, [])["flag_counts"]
    assert set(fc) == SINGLE_BOARD_FLAG_KEYS and fc["fast_drop"] == 1


def test_core_multi_uses_the_core_names():
    from imu_host.core import multi

    assert multi.KNEES_APART is events.KNEES_APART
    assert multi.SHOULDER_LIFT is events.SHOULDER_LIFT
    assert multi.MULTI_FLAGS == events.MULTI_FLAGS
