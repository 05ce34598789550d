"""The class's grades for the teacher's eyes: one static HTML page (no JavaScript: each
cell a ``<details>`` that opens the submission's diagnosis) and a histogram of the named
mistakes (matplotlib, Agg), which mistakes the class makes most being what a teacher
wants to see first.

Everything from a submission (its class names, messages, what it printed) is escaped:
the page shows it as text and never runs it.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from reference.grade.verdicts import KindGrade
from scratchnet.atomic import write_atomically

if TYPE_CHECKING:
    from reference.grade.grade import ClassGrade

COLOURS = {"passed": "#d8f0d8", "wrong": "#f8d8d0", "did not run": "#f0e0a8",
           "not found": "#e4e4e4"}

STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #999; padding: 0.3em 0.5em; vertical-align: top; }
td.score { text-align: right; }
details pre { white-space: pre-wrap; max-width: 60em; font-size: 0.85em; }
""" + "".join(f'td.{v.replace(" ", "-")} {{ background: {c}; }}\n'
              for v, c in COLOURS.items())


def mistake_counts(result: ClassGrade) -> Counter:
    """How many submissions' implementations each catalogued mistake was named in."""
    return Counter(m for s in result.submissions for k in s.kinds for m in k.mistakes)


def write_histogram(result: ClassGrade, path: Path) -> None:
    """The named mistakes across the class, most frequent on top, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = mistake_counts(result).most_common()
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.35 * max(1, len(counts))))
    if counts:
        names = [name for name, _ in counts][::-1]
        ax.barh(names, [n for _, n in counts][::-1], color="#c0504d")
        ax.set_xlabel("submissions making it")
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        ax.text(0.5, 0.5, "no catalogued mistake was named", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(f"Named mistakes in {len(result.submissions)} submissions")
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


def _cell(k: KindGrade) -> str:
    summary = f"{k.verdict} {k.points:.3g}/{k.max_points:g}"
    if k.mistakes:
        summary += " · " + ", ".join(k.mistakes)
    details = k.teacher if not k.implementation else f"{k.implementation}\n\n{k.teacher}"
    return (f'<td class="{k.verdict.replace(" ", "-")}"><details><summary>'
            f"{html.escape(summary)}</summary><pre>{html.escape(details)}</pre>"
            f"</details></td>")


def render(result: ClassGrade, histogram: str | None) -> str:
    """The page's HTML."""
    kinds = list(result.config.kinds)
    verdicts = Counter(k.verdict for s in result.submissions for k in s.kinds)
    head = "".join(f"<th>{html.escape(k)} ({result.config.kinds[k].points:g})</th>"
                   for k in kinds)
    rows = []
    for s in result.submissions:
        notes = "\n".join(s.notes)
        name = html.escape(s.name)
        if notes or s.stdout or s.stderr:
            extra = "\n\n".join(part for part in (notes, s.stdout and "stdout:\n" + s.stdout[:2000],
                                                  s.stderr and "stderr:\n" + s.stderr[:2000])
                                if part)
            name = (f"<details><summary>{name}</summary><pre>{html.escape(extra)}</pre>"
                    "</details>")
        rows.append(f"<tr><td>{name}</td>{''.join(_cell(k) for k in s.kinds)}"
                    f'<td class="score">{s.score:.4g}/{s.max_score:g}</td></tr>')
    summary = ", ".join(f"{n} {v}" for v, n in verdicts.most_common())
    image = (f'<p><img src="{html.escape(histogram)}" alt="named mistakes across the class">'
             "</p>") if histogram else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>scratchnet grades</title>
<style>{STYLE}</style></head><body>
<h1>scratchnet grades: {len(result.submissions)} submissions</h1>
<p>Seed {result.config.seed}, {result.config.random_configurations} random configurations
per kind; {html.escape(summary)}; graded in {result.seconds:.1f} s.</p>
<p>Sandbox: {html.escape(result.sandbox)}.</p>
{image}
<table id="grades">
<thead><tr><th>submission</th>{head}<th>score</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p>Each cell opens the diagnosis (hidden configurations included); each submission's name
opens what its process printed and why it stopped, when it did.</p>
</body></html>
"""


def write_page(result: ClassGrade, path: Path, histogram: str | None) -> None:
    """``render`` into ``path``."""
    text = render(result, histogram)
    write_atomically(path, lambda f: f.write(text.encode()))
