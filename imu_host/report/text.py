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
    LEFT,
    PARTIAL,
    RIGHT,
    Rep,
)
from imu_host.core.stats import SIDES
from imu_host.report.summary import session_start_text

ASYMMETRY_FEEDBACK_PCT = 20.0  # above this, a feedback line about the tighter side
# what each fault is called where people read it (never the internal flag names)
FLAG_WORDS = {
    FAST_DROP: "dropped too fast",
    BOUNCE: "bounced at the end",
    FAST_RETURN: "came back too fast",
    PARTIAL: "partial range",
}
CLEAN_WORD = "clean"
NO_REPS_LINES = (
    "**No reps were detected in this session.**",
    "",
    "A rep is counted when both knees roll to one side and come back to the centre. "
    "Check that the sensor is strapped above the knee and that the recording covers "
    "the exercise.",
)


def flag_words(flags: Sequence[str]) -> str:
    """A rep's faults in plain words (``clean`` when there are none)."""
    return ", ".join(FLAG_WORDS.get(f, f.replace("_", " ")) for f in flags) or CLEAN_WORD


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


def render_markdown(
    stats: Mapping[str, Any],
    feedback: Sequence[str],
    reps: Sequence[Rep],
    meta: Mapping[str, Any],
    duration_s: float,
    figure_name: str | None = "report.png",
) -> str:
    """The Markdown report text (plain words: it is read by patients too)."""
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
