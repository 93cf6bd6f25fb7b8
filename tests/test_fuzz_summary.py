"""Fuzzing the summary-JSON reader (issue 15): any input gives a result or ONE line.

Bounded: a fixed number of examples per property, no deadline, no example database
writes outside the test's own settings. Runs in CI with the rest of the suite.
"""

from __future__ import annotations

import json
import math

import pytest

from imu_host.core.events import ALL_FLAGS, Rep
from imu_host.errors import InputError
from imu_host.report.summary import (
    build_summary,
    parse_summary_json,
    summary_from_object,
)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

GOOD_REP = Rep(1, "left", 1.0, 3.5, 6.0, 40.0, 2.0, 1.0, 2.0, 30.0, 30.0, ("fast_drop",)).to_dict()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["NaN", "left", "right", "fast_drop", "1e308", "", "-5"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=12), children, max_size=5),
    ),
    max_leaves=30,
)
rep_keys = st.sampled_from(sorted(GOOD_REP) + ["phases", "extra"])


@st.composite
def mutated_reps(draw):
    """Valid rep objects with a few fields replaced, removed or added."""
    rep = dict(GOOD_REP)
    for _ in range(draw(st.integers(0, 4))):
        key = draw(rep_keys)
        action = draw(st.sampled_from(["set", "drop"]))
        if action == "drop":
            rep.pop(key, None)
        else:
            rep[key] = draw(json_values)
    return rep


@st.composite
def summaries(draw):
    obj: dict = {"reps": draw(st.lists(mutated_reps(), max_size=6))}
    if draw(st.booleans()):
        obj["duration_s"] = draw(json_values)
    if draw(st.booleans()):
        obj["flag_events"] = draw(
            st.one_of(
                json_values,
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "t_s": json_values,
                            "kind": st.sampled_from([*ALL_FLAGS, "x"]),
                            "side": st.sampled_from(["left", "right", "up"]),
                        }
                    ),
                    max_size=4,
                ),
            )
        )
    if draw(st.booleans()):
        obj["source"] = draw(json_values)
    if draw(st.booleans()):
        obj["settings"] = draw(json_values)
    return obj


def _one_line(err: InputError) -> None:
    text = str(err)
    assert text and "\n" not in text and "\r" not in text
    assert len(text) < 400, text


def _use(summary: dict, reps: list[Rep], events) -> None:
    """What the report does with an accepted summary (all but drawing the figure)."""
    from imu_host.core.stats import session_stats
    from imu_host.report.summary import session_duration
    from imu_host.report.text import feedback_lines, render_markdown

    stats = session_stats(reps)
    fb = feedback_lines(stats)
    dur = session_duration(reps, None, {}, summary)
    assert math.isfinite(dur)
    out = build_summary(reps, stats, fb, dur, summary.get("source", {}), events, summary)
    json.dumps(out, allow_nan=False)  # summary.json is strict JSON
    render_markdown(stats, fb, reps, {}, dur)


@pytest.mark.slow
@FUZZ
@given(summaries())
def test_fuzz_mutated_summaries(obj):
    try:
        summary, reps, events = summary_from_object(obj, "fuzz.json")
    except InputError as err:
        _one_line(err)
        return
    _use(summary, reps, events)


@pytest.mark.slow
@FUZZ
@given(json_values)
def test_fuzz_any_json_value(obj):
    try:
        summary_from_object(obj, "fuzz.json")
    except InputError as err:
        _one_line(err)


@pytest.mark.slow
@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        summaries().map(lambda o: json.dumps(o)),
        summaries().map(lambda o: json.dumps(o)[: len(json.dumps(o)) // 2]),  # cut short
    )
)
def test_fuzz_json_text(text):
    try:
        obj = parse_summary_json(text, "fuzz.json")
        summary, reps, events = summary_from_object(obj, "fuzz.json")
    except InputError as err:
        _one_line(err)
        return
    _use(summary, reps, events)


def test_fuzz_finds_valid_inputs_too():
    """The strategies are not all-invalid: the unmutated summary is accepted."""
    summary, reps, _ = summary_from_object({"reps": [GOOD_REP]}, "x")
    assert len(reps) == 1 and reps[0].flags == ("fast_drop",)
