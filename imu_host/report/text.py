"""The words of a report: feedback lines, the Markdown report and its HTML page."""

from __future__ import annotations

import base64
import html as html_mod
import re
from collections.abc import Mapping, Sequence
from typing import Any

from imu_host.core.events import (
    ALL_FLAGS,
    BOUNCE,
    FAST_DROP,
    FAST_RETURN,
    FLAG_WORDS,
    KNEES_APART,
    LEFT,
    PARTIAL,
    RIGHT,
    SHOULDER_LIFT,
    Rep,
    flag_words,
)
from imu_host.core.stats import SIDES
from imu_host.report.summary import session_start_text

ASYMMETRY_FEEDBACK_PCT = 20.0  # above this, a feedback line about the tighter side
# what each board is called where people read it (FLAG_WORDS, in the core, names faults)
ROLE_WORDS = {"left-thigh": "left thigh", "right-thigh": "right thigh", "sternum": "chest"}
MULTI_TITLE = "Knees and shoulders"
NO_REPS_LINES = (
    "**No reps were detected in this session.**",
    "",
    "A rep is counted when both knees roll to one side and come back to the centre. "
    "Check that the sensor is strapped above the knee and that the recording covers "
    "the exercise.",
)


def _fmt(v: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "–" if v is None else f"{v:{spec}}{unit}"


def _of(n: int, total: int, noun: str, side_phrase: str, verb_pl: str, verb_sg: str) -> str:
    verb = verb_sg if n == 1 else verb_pl
    return f"{n} of {total} {noun} {side_phrase} {verb}"


def feedback_lines(stats: Mapping[str, Any]) -> list[str]:
    """Plain-language feedback: one line per fault type and side seen, with counts.

    Also a line per side that missed (or exceeded) the prescribed count (one line when
    both sides did exactly what was prescribed), one about a range
    asymmetry above 20 %, and a positive line when every rep was clean.
    """
    lines: list[str] = []
    sides = stats["sides"]
    if stats["reps_total"] == 0:
        return ["No reps were detected in this session."]
    met = [sides[s]["target"] is not None and sides[s]["done"] == sides[s]["target"] for s in SIDES]
    if all(met):
        tl, tr = sides[LEFT]["target"], sides[RIGHT]["target"]
        each = f"{tl} to each side" if tl == tr else f"{tl} to the left, {tr} to the right"
        lines.append(f"All prescribed reps were done: {each}.")
    for side in SIDES:
        st = sides[side]
        target = st["target"]
        if target is not None and st["done"] < target:
            lines.append(
                f"{st['done']} of {target} prescribed reps to the {side} were done: "
                f"{target - st['done']} still to do."
            )
        elif target is not None and st["done"] > target:
            lines.append(
                f"{st['done']} reps to the {side} were done, {target} were prescribed: "
                "stop at the prescribed number."
            )
    for kind in ALL_FLAGS:
        for side in SIDES:
            st = sides[side]
            n, total = st["flags"][kind], st["done"]
            if n == 0:
                continue
            if kind == FAST_DROP:
                head = _of(n, total, "drops", f"to the {side}", "were too fast", "was too fast")
                lines.append(f"{head}: lower the knees over 2-3 s.")
            elif kind == BOUNCE:
                head = _of(n, total, "reps", f"to the {side}", "bounced", "bounced")
                lines.append(f"{head} at the end: pause at the end instead of pushing further.")
            elif kind == FAST_RETURN:
                head = _of(n, total, "returns", f"from the {side}", "were too fast", "was too fast")
                lines.append(f"{head}: bring the knees back over 2-3 s.")
            elif kind == PARTIAL:
                head = _of(n, total, "reps", f"to the {side}", "were partial", "was partial")
                lines.append(
                    f"{head} (well short of your usual range): "
                    "roll to your usual comfortable range each time."
                )
    asym = stats["asymmetry_pct"]
    if asym is not None and asym > ASYMMETRY_FEEDBACK_PCT and stats["smaller_side"]:
        small = stats["smaller_side"]
        big = RIGHT if small == LEFT else LEFT
        rs, rb = sides[small]["rom_mean_deg"], sides[big]["rom_mean_deg"]
        lines.append(
            f"{small.capitalize()} side range is {asym:.0f}% smaller than {big} "
            f"({rs:.0f}° vs {rb:.0f}° on average): that side is tighter; "
            "tell your physiotherapist if it does not improve."
        )
    if stats["flagged_reps"] == 0:
        lines.append(
            f"All {stats['reps_total']} reps were clean: smooth and controlled. Keep it up."
        )
    return lines


def _side_table(stats: Mapping[str, Any]) -> list[str]:
    L, R = stats["sides"][LEFT], stats["sides"][RIGHT]

    def tot(a: Any, b: Any) -> str:
        return "–" if a is None or b is None else str(a + b)

    def row(name: str, lv: str, rv: str, tv: str = "") -> str:
        return f"| {name} | {lv} | {rv} | {tv} |"

    lines = ["| | Left | Right | Total |", "|---|---:|---:|---:|"]
    lines.append(
        row(
            "Prescribed",
            _fmt(L["target"], "d"),
            _fmt(R["target"], "d"),
            tot(L["target"], R["target"]),
        )
    )
    lines.append(row("Done", str(L["done"]), str(R["done"]), str(stats["reps_total"])))
    lines.append(row("Clean", str(L["clean"]), str(R["clean"]), str(stats["clean_reps"])))
    lines.append(
        row("With a fault", str(L["flagged"]), str(R["flagged"]), str(stats["flagged_reps"]))
    )
    for k in ALL_FLAGS:
        name = FLAG_WORDS[k].capitalize()
        lines.append(row(name, str(L["flags"][k]), str(R["flags"][k]), str(stats["flags"][k])))
    lines.append(
        row("Range of motion, average (°)", _fmt(L["rom_mean_deg"]), _fmt(R["rom_mean_deg"]))
    )
    lines.append(
        row("Range of motion, largest (°)", _fmt(L["rom_max_deg"]), _fmt(R["rom_max_deg"]))
    )
    lines.append(
        row(
            "Speed on the way down, typical (°/s)",
            _fmt(L["peak_descent_dps_median"], ".0f"),
            _fmt(R["peak_descent_dps_median"], ".0f"),
        )
    )
    phase_words = {
        "descent": "Time on the way down",
        "hold": "Pause at the end",
        "return": "Time on the way back",
    }
    for ph in ("descent", "hold", "return"):
        lines.append(
            row(
                f"{phase_words[ph]}, typical (s)",
                _fmt(L["tempo_median_s"][ph]),
                _fmt(R["tempo_median_s"][ph]),
                _fmt(stats["tempo_median_s"][ph]),
            )
        )
    return lines


# ------------------------------------------------------------------ multi-board words


def role_words(roles: Sequence[str]) -> str:
    """Board roles as people say them ("left thigh, chest"); "none" for no board."""
    return ", ".join(ROLE_WORDS.get(r, r) for r in roles) or "none"


def _leg(role: str | None) -> str:
    return {"left-thigh": "left leg", "right-thigh": "right leg"}.get(role or "", "–")


def _reps_word(n: int) -> str:
    return "rep" if n == 1 else "reps"


def board_change_lines(multi: Mapping[str, Any]) -> list[str]:
    """One line per drop-out / return ("The right thigh sensor dropped out at 40 s; then:
    left thigh, chest.")."""
    out = []
    for ch in multi.get("board_changes", []):
        what = "dropped out" if ch["state"] == "dropped" else "came back"
        when = "" if ch["t_s"] is None else f" at {ch['t_s']:.0f} s"
        out.append(f"The {ROLE_WORDS.get(ch['role'], ch['role'])} sensor {what}{when}; "
                   f"then: {role_words(ch['remaining'])}.")  # fmt: skip
    return out


def multi_side_lines(multi: Mapping[str, Any]) -> list[str]:
    """Per side, in plain words: on how many reps the knees came apart and the opposite
    shoulder lifted ("Knees came apart on 3 of 5 reps to the left.")."""
    roles = multi.get("roles", [])
    thighs = sum(r in roles for r in ("left-thigh", "right-thigh")) == 2
    chest = "sternum" in roles
    out: list[str] = []
    for side in SIDES:
        d = multi["per_side"][side]
        reps = d["reps"]
        if not reps:
            continue
        checks = (
            (thighs, "reps_checked_knees", KNEES_APART, "Knees came apart on {n} of {m} {w} "
             "to the {side}", "Knees stayed together on {all} to the {side}"),
            (chest, "reps_checked_trunk", SHOULDER_LIFT, "The opposite shoulder lifted on "
             "{n} of {m} {w} to the {side}", "The shoulders stayed down on {all} to the {side}"),
        )  # fmt: skip
        for present, checked_key, kind, bad, good in checks:
            if not present:
                continue
            n, m = d[kind], d[checked_key]
            every = {1: "the one rep", 2: "both reps"}.get(m, f"all {m} reps")
            if not m:
                line = (f"{'Knees' if kind == KNEES_APART else 'Shoulders'} could not be "
                        f"checked on the reps to the {side}: a sensor was not streaming")  # fmt: skip
            else:
                line = (bad if n else good).format(n=n, m=m, w=_reps_word(m), side=side,
                                                   all=every)  # fmt: skip
                if m < reps:
                    line += f" ({reps - m} more could not be checked: a sensor was not streaming)"
            out.append(line + ".")
    return out


def _multi_side_table(multi: Mapping[str, Any]) -> list[str]:
    L, R = multi["per_side"][LEFT], multi["per_side"][RIGHT]

    def of(d: Mapping[str, Any], kind: str, checked: str) -> str:
        return f"{d[kind]} of {d[checked]}" if d[checked] else "–"

    return [
        "| | Left | Right |",
        "|---|---:|---:|",
        f"| Knees came apart (reps) | {of(L, KNEES_APART, 'reps_checked_knees')} "
        f"| {of(R, KNEES_APART, 'reps_checked_knees')} |",
        f"| Largest gap between the knees (°) | {_fmt(L['separation_deg_max'])} "
        f"| {_fmt(R['separation_deg_max'])} |",
        f"| Opposite shoulder lifted (reps) | {of(L, SHOULDER_LIFT, 'reps_checked_trunk')} "
        f"| {of(R, SHOULDER_LIFT, 'reps_checked_trunk')} |",
        f"| Largest upper-body roll (°) | {_fmt(L['trunk_roll_deg_max'])} "
        f"| {_fmt(R['trunk_roll_deg_max'])} |",
    ]


def multi_limits_text(multi: Mapping[str, Any]) -> str | None:
    """The multi-board thresholds in words (None when unknown)."""
    st = multi.get("settings") or {}
    parts = []
    if st.get("separation_deg") is not None:
        lag = f" or one leg following over {st['lag_s']:.2f} s late" if st.get("lag_s") else ""
        parts.append(f"knees apart above {st['separation_deg']:.0f}°{lag}")
    if st.get("trunk_roll_deg") is not None:
        parts.append(f"shoulder lift above {st['trunk_roll_deg']:.0f}° of upper-body roll")
    return "; ".join(parts) or None


def multi_markdown(multi: Mapping[str, Any], reps: Sequence[Rep]) -> list[str]:
    """The multi-board section: sensors, drop-outs, per side and per rep (plain words)."""
    out = [f"## {MULTI_TITLE}", ""]
    out.append(f"- Sensors: {role_words(multi.get('roles', []))}")
    out.extend(f"- {line}" for line in board_change_lines(multi))
    out.extend(f"- {line}" for line in multi_side_lines(multi))
    out.append("")
    out.extend(_multi_side_table(multi))
    out.append("")
    figs = {f["index"]: f for f in multi.get("reps", []) if f.get("index") is not None}
    out.append(
        "| # | Side | Gap between the knees (°) | Lag (s) | Leg that lagged "
        "| Upper-body roll (°) | Knees | Shoulders |"
    )
    out.append("|---:|---|---:|---:|---|---:|---|---|")
    for r in reps:
        f = figs.get(r.index, {})
        sep, lag, trunk = f.get("separation_deg"), f.get("lag_s"), f.get("trunk_roll_deg")
        flags = f.get("flags", [])
        knees = "–" if sep is None else ("came apart" if KNEES_APART in flags else "together")
        shoulders = "–" if trunk is None else ("lifted" if SHOULDER_LIFT in flags else "down")
        out.append(
            f"| {r.index} | {r.side} | {_fmt(sep)} | {_fmt(lag, '.2f')} "
            f"| {_leg(f.get('lagging')) if lag is not None else '–'} | {_fmt(trunk)} "
            f"| {knees} | {shoulders} |"
        )
    out.append("")
    out.append(
        "Gap between the knees: how far the two thigh angles differed during the rep. "
        "Lag: how late one leg followed the other. Upper-body roll: how far the chest "
        "turned. – : the sensor needed was not there for that rep."
    )
    out.append("")
    return out


def render_markdown(
    stats: Mapping[str, Any],
    feedback: Sequence[str],
    reps: Sequence[Rep],
    meta: Mapping[str, Any],
    duration_s: float,
    figure_name: str | None = "report.png",
    multi: Mapping[str, Any] | None = None,
) -> str:
    """The Markdown report text (plain words: it is read by patients too).

    ``multi``: the checked ``multi`` section of a multi-board session
    (:func:`imu_host.report.summary.multi_block`): adds the knees-and-shoulders section."""
    out = ["# Knee rolls: session report", ""]
    label = meta.get("recording")
    if label:
        out.append(f"- Recording: `{label}`")
    if meta.get("source") and meta.get("source") != label:
        out.append(f"- Source: {meta['source']}")
    started = session_start_text(meta)
    if started:
        out.append(f"- Started: {started}")
    out.append(f"- Duration: {duration_s:.0f} s")
    limits = [
        f"{what} {float(meta[key]):.0f}°/s"
        for key, what in (
            ("fast_drop_dps", "too fast down above"),
            ("fast_return_dps", "too fast back above"),
        )
        if meta.get(key) is not None
    ]
    if limits:
        out.append(f"- Limits used: {', '.join(limits)}")
    if multi is not None and multi_limits_text(multi):
        out.append(f"- Limits used for knees and shoulders: {multi_limits_text(multi)}")
    out.append("")
    out.append("## Summary")
    out.append("")
    total = stats["reps_total"]
    if not total:
        out.extend(NO_REPS_LINES)
        out.append("")
        if figure_name:
            out.append(f"![Knee angle over time]({figure_name})")
            out.append("")
        if multi is not None:
            out.extend(multi_markdown(multi, reps))
        return "\n".join(out)
    out.append(
        f"**{stats['clean_reps']} of {total} reps clean ({stats['clean_pct']:.0f}%)**, "
        f"{stats['flagged_reps']} with a fault."
    )
    asym = stats["asymmetry_pct"]
    if asym is not None:
        side = stats["smaller_side"]
        tail = f" (the {side} side goes less far)" if side else ""
        out.append(f"Difference in range between the sides: **{asym:.0f}%**{tail}.")
    out.append("")
    out.extend(_side_table(stats))
    if multi is not None:
        for k in (KNEES_APART, SHOULDER_LIFT):
            n = [sum(k in r.flags for r in reps if r.side == s) for s in SIDES]
            out.append(f"| {FLAG_WORDS[k].capitalize()} | {n[0]} | {n[1]} | {sum(n)} |")
    out.append("")
    out.append("## Feedback")
    out.append("")
    out.extend(f"- {line}" for line in feedback)
    out.append("")
    if figure_name:
        out.append("## Figure")
        out.append("")
        out.append(f"![Knee angle over time, reps and faults]({figure_name})")
        out.append("")
    out.append("## Reps")
    out.append("")
    out.append(
        "| # | Side | Start (s) | Range (°) | Down (s) | Pause (s) | Back (s) "
        "| Speed down (°/s) | Speed back (°/s) | How it went |"
    )
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in reps:
        out.append(
            f"| {r.index} | {r.side} | {r.start_s:.1f} | {r.rom_deg:.1f} | {r.descent_s:.1f} "
            f"| {r.hold_s:.1f} | {r.return_s:.1f} | {r.peak_descent_dps:.0f} "
            f"| {r.peak_return_dps:.0f} | {flag_words(r.flags)} |"
        )
    out.append("")
    if multi is not None:
        out.extend(multi_markdown(multi, reps))
    return "\n".join(out)


def _inline(md: str) -> str:
    """Escape, then render **bold** and `code` spans (all the Markdown we emit inline)."""
    s = html_mod.escape(md)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", s)


def render_html(markdown_text: str, png_bytes: bytes | None) -> str:
    """A self-contained HTML page from our Markdown (tables, lists, headings, one image)."""
    body: list[str] = []
    lines = markdown_text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("!["):
            if png_bytes:
                data = base64.b64encode(png_bytes).decode("ascii")
                body.append(
                    f'<img alt="session figure" style="max-width:100%" '
                    f'src="data:image/png;base64,{data}">'
                )
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            head, data_rows = rows[0], rows[2:]
            t = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
            for r in data_rows:
                t.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>")
            t.append("</table>")
            body.append("\n".join(t))
            continue
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        i += 1
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Knee rolls: session report</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
