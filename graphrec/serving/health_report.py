"""The recommendation-health report on disk: `health.json` and the long-tail plot `longtail.png`.

The plot shows what a data person checks before switching versions: how far each version's
recommendations reach into the catalogue's long tail, against the interactions' own concentration. Left, the
whole catalogue (x linear); right, the same curves with x on a log scale, where the head (the top 1%) is
readable; under them, the per-version figures. Drawn like the training report (`learn.report.figure`: the
Agg canvas, no pyplot); without matplotlib only the JSON is written, and the report says how to get the plot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from graphrec.learn.report import MATPLOTLIB_HINT, figure
from graphrec.serving.health import POPULAR_SHARE, HealthReport

JSON_FILE, PLOT_FILE = "health.json", "longtail.png"
PLOT_POINTS = 2000
"""Most points drawn per curve: a 41k-item catalogue's curves look the same and the PNG stays small."""


def write_health(report: HealthReport, out: Path) -> HealthReport:
    """Write `longtail.png` (with matplotlib) and `health.json` into `out` (created); return `report` with
    their paths set. A plot that cannot be drawn is a note in the report, not an error."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        plot_longtail(report, out / PLOT_FILE)
        report.plot = str(out / PLOT_FILE)
    except ImportError:
        report.notes.append(MATPLOTLIB_HINT)
    except Exception as exc:  # noqa: BLE001 - the figures in the JSON are the report; the plot is a view
        report.notes.append(f"the plot could not be drawn: {type(exc).__name__}: {exc}")
    report.json = str(out / JSON_FILE)
    (out / JSON_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report


def _thin(curve: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(x, y) of a curve over items + 1 points, at most `PLOT_POINTS` of them (the head always kept)."""
    items = len(curve) - 1
    x = np.arange(items + 1) / max(items, 1)
    if items + 1 <= PLOT_POINTS:
        return x, curve
    keep = np.unique(np.concatenate([np.arange(50), np.linspace(0, items, PLOT_POINTS).round().astype(int)]))
    return x[keep], curve[keep]


def plot_longtail(report: HealthReport, path: Path) -> None:
    """Draw the long-tail curves and the per-version table, and save the PNG at `path` (ImportError without
    matplotlib)."""
    fig = figure(11, 7)
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 1.1))
    linear, log = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    table_ax = fig.add_subplot(grid[1, :])
    styles: list[tuple[str, dict[str, Any]]] = [
        ("interactions", {"color": "black", "linestyle": "--", "label": "interactions (the data)"})
    ]
    colours = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange"]
    for n, version in enumerate(report.versions):
        label = f"v{version.version}" + (" (active)" if version.active else "") + f" top-{report.k}"
        styles.append((f"v{version.version}", {"color": colours[n % len(colours)], "label": label}))
    for ax in (linear, log):
        for key, style in styles:
            x, y = _thin(report.curves[key])
            ax.plot(x[1:] if ax is log else x, y[1:] if ax is log else y, linewidth=2, **style)
        even = np.geomspace(1 / max(report.catalogue, 1), 1, 200) if ax is log else np.array([0.0, 1.0])
        ax.plot(even, even, color="grey", linestyle=":", linewidth=1, label="uniform")
        ax.axvline(POPULAR_SHARE, color="grey", linewidth=1, alpha=0.6)
        ax.set(ylim=(0, 1.02), ylabel="cumulative share")
        ax.grid(alpha=0.3)
    linear.set(xlim=(0, 1), xlabel="items ranked by popularity (share of the catalogue)")
    linear.set_title("long tail: share of recommendations (or interactions) on the top x items", fontsize=10)
    log.set_xscale("log")
    log.set(xlim=(1 / max(report.catalogue, 1), 1), xlabel="items ranked by popularity (log scale)")
    log.set_title("the head; the grey line marks the top 1%", fontsize=10)
    linear.legend(loc="lower right", fontsize=9)
    _draw_table(table_ax, report)
    fig.suptitle(
        f"Recommendation health: {report.users:,} users, top-{report.k}, catalogue of {report.catalogue:,} "
        f"items (top 1% = {report.popular_items:,}, {report.interactions_top_share:.1%} of interactions)",
        fontsize=11,
    )
    fig.savefig(path, format="png")


def _draw_table(ax: Any, report: HealthReport) -> None:
    """The per-version figures under the curves."""
    ax.axis("off")
    rows = report.rows()
    columns = list(rows[0]) if rows else []
    drawn = ax.table(
        cellText=[[row[key] for key in columns] for row in rows],
        colLabels=columns,
        loc="center",
        cellLoc="center",
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(10)
    drawn.scale(1, 1.6)
    reference = f"v{report.versions[0].version}" if report.versions else "the first version"
    legend = (
        f"coverage: share of the catalogue recommended to at least one user; top-1% share: share of the "
        f"recommendations on the {report.popular_items:,} most interacted-with items;\npop. pct: mean "
        f"popularity percentile of the recommended items (100: the most popular); overlap: mean Jaccard of "
        f"each user's top-{report.k} with {reference}'s"
    )
    ax.text(0.5, -0.05, legend, ha="center", va="top", fontsize=8.5, color="dimgrey", transform=ax.transAxes)
