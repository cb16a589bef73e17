"""The training report: what a person reads beside a model directory after `graphrec train` or a refresh.

`write_report(model_dir)` reads the directory's `metrics.json` (the per-epoch history, the best epoch kept
and the validation table that `learn.saved_model.save_model` wrote) and writes, beside the model:
- `training_report.png`: the loss and the validation metric per epoch with the kept epoch marked, and the
  final table (the model beside MostPopular on the validation split) when there was one;
- `report.json` (`TrainingReport.to_dict()`) and `report.md`: the same summary for programs and people.

matplotlib is optional (the `report` extra): without it the summary files are still written and say how to
get the plot. Figures are drawn on a bare `Figure` with the Agg canvas, never through pyplot, so no global
backend or figure state is touched (safe inside a server, a thread, or a test run).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrec.errors import GraphrecError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_FILE, JSON_FILE, MARKDOWN_FILE = "training_report.png", "report.json", "report.md"
METRICS_FILE = "metrics.json"
MATPLOTLIB_HINT = "matplotlib is not installed: pip install 'graphrec[report]' for the plot"
DPI = 110
"""Resolution of the PNGs: a 10 x 6.5 inch figure is 1100 x 715 pixels, legible on a README page."""


class NotAModelDir(GraphrecError, FileNotFoundError):
    """A directory without the training history a report is drawn from."""


def figure(width: float, height: float) -> Figure:
    """A new matplotlib figure on the Agg canvas (no pyplot). Raises ImportError without matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def finite(value: Any) -> float | None:
    """`value` as a float, or None when it is missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class TrainingReport:
    """The summary of one training run, as `graphrec report MODEL_DIR` prints it."""

    directory: str
    encoder: str | None
    mode: str | None
    epochs: int
    best_epoch: int
    valid_metric: str | None
    """The metric early stopping watched (None: no validation split)."""
    best_valid: float | None
    """That metric at the kept epoch."""
    seconds_per_epoch: float | None
    """Mean training seconds of an epoch (validation excluded)."""
    stopped: str | None
    """Why training ended before its last epoch (time budget), if it did."""
    table: list[dict[str, Any]] = field(default_factory=list)
    """The kept model and MostPopular on the validation split; empty without one."""
    plot: str | None = None
    """The PNG, when matplotlib drew it."""
    markdown: str | None = None
    """`report.md`, once written."""
    notes: list[str] = field(default_factory=list)
    """What is missing from the report and why (no validation split, no matplotlib)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (`report.json`, `graphrec report --json`)."""
        return asdict(self)

    def one_line(self) -> str:
        """A human summary."""
        epochs = f"{self.encoder or 'model'}: {self.epochs} epochs" + (f" ({self.mode})" if self.mode else "")
        if self.valid_metric and self.best_valid is not None:
            best = f"kept epoch {self.best_epoch}: {self.valid_metric} {self.best_valid:.4f}"
        else:
            best = f"no validation split, epoch {self.best_epoch} kept"
        speed = "" if self.seconds_per_epoch is None else f", {self.seconds_per_epoch:.3f} s/epoch"
        stopped = f"; stopped: {self.stopped}" if self.stopped else ""
        return f"{epochs}, {best}{speed}{stopped}"


def read_metrics(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """`metrics.json` and `config.json` of a model directory; `NotAModelDir` says what is wrong."""
    if not directory.is_dir():
        raise NotAModelDir(f"{directory} is not a directory: give the --out of `graphrec train`")
    path = directory / METRICS_FILE
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotAModelDir(
            f"{directory} is not a graphrec model directory (no {METRICS_FILE}): give the --out of "
            "`graphrec train` or a model-* directory of the refresh work dir"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAModelDir(f"{path} is unreadable: {exc}") from exc
    if not isinstance(metrics, dict) or not metrics.get("history"):
        raise NotAModelDir(f"{path} holds no training history: the model was not trained by graphrec")
    config_path = directory / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        config = {}
    return metrics, config if isinstance(config, dict) else {}


def _valid_metric(metrics: dict[str, Any], config: dict[str, Any]) -> str | None:
    """The validation metric's name: saved with the metrics, else the one the history rows carry."""
    history: list[dict[str, Any]] = metrics["history"]
    named = metrics.get("valid_metric") or (config.get("train") or {}).get("valid_metric")
    if named and any(named in row for row in history):
        return str(named)
    return next((key for row in history for key in row if "@" in key), None)


def summarize(directory: Path, metrics: dict[str, Any], config: dict[str, Any]) -> TrainingReport:
    """The report's numbers, read from the history itself: epochs run, the epoch kept and its metric,
    the mean training seconds of an epoch, and the validation table."""
    history: list[dict[str, Any]] = metrics["history"]
    metric = _valid_metric(metrics, config)
    best_epoch = int(metrics.get("best_epoch") or len(history))
    kept = next((row for row in history if row.get("epoch") == best_epoch), history[-1])
    times = [float(row["train_seconds"]) for row in history if "train_seconds" in row]
    table = metrics.get("valid_table") or []
    notes = [] if table else ["no validation split: no comparison table (train with --valid-share > 0)"]
    train_config = config.get("train") or {}
    stopped = next((str(row["stopped"]) for row in history if "stopped" in row), None)
    if stopped is None and metric and len(history) < int(train_config.get("epochs") or 0):
        stopped = f"early, no better {metric} in {train_config.get('patience', '?')} epochs"
    return TrainingReport(
        directory=str(directory),
        encoder=train_config.get("encoder") or config.get("encoder"),
        mode=config.get("mode"),
        epochs=len(history),
        best_epoch=best_epoch,
        valid_metric=metric,
        best_valid=finite(kept.get(metric)) if metric else None,
        seconds_per_epoch=sum(times) / len(times) if times else None,
        stopped=stopped,
        table=[{key: finite(v) if isinstance(v, float) else v for key, v in row.items()} for row in table],
        notes=notes,
    )


def write_report(directory: Path) -> TrainingReport:
    """Write `training_report.png` (when matplotlib is installed), `report.json` and `report.md` into the
    model `directory`, from its metrics.json; return the summary. A plot that cannot be drawn is a note in
    the report, never an error: the model beside it is what matters."""
    metrics, config = read_metrics(directory)
    report = summarize(directory, metrics, config)
    try:
        plot_history(report, metrics["history"], directory / PLOT_FILE)
        report.plot = str(directory / PLOT_FILE)
    except ImportError:
        report.notes.append(MATPLOTLIB_HINT)
    except Exception as exc:  # noqa: BLE001 - a report never fails the run that trained the model
        report.notes.append(f"the plot could not be drawn: {type(exc).__name__}: {exc}")
    report.markdown = str(directory / MARKDOWN_FILE)
    (directory / JSON_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    (directory / MARKDOWN_FILE).write_text(markdown(report), encoding="utf-8")
    return report


def load_report(directory: Path, rebuild: bool = False) -> tuple[TrainingReport, bool]:
    """The report of a model directory, and whether it was written now: an existing `report.json` is read
    unless `rebuild`, else (a model trained before reports existed) it is written from metrics.json."""
    read_metrics(directory)  # a clear error for anything that is not a trained model's directory
    path = directory / JSON_FILE
    if not rebuild and path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return TrainingReport(**saved), False
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError):
            pass  # torn or from another version: written again below
    return write_report(directory), True


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def table_rows(report: TrainingReport) -> list[dict[str, str]]:
    """The validation table as display rows: model, the metrics with 4 decimals, users."""
    return [
        {key: (str(value) if key == "model" else _number(value) if key != "users" else f"{value:.0f}")
         for key, value in row.items()}
        for row in report.table
    ]  # fmt: skip


def markdown(report: TrainingReport) -> str:
    """`report.md`: the summary, the table and the plot for people (renders on GitHub and in editors)."""
    lines = [f"# Training report: {Path(report.directory).name}", "", report.one_line() + ".", ""]
    if report.plot:
        lines += [f"![loss and {report.valid_metric or 'loss'} per epoch]({PLOT_FILE})", ""]
    rows = table_rows(report)
    if rows:
        users = rows[0].get("users", "?")
        lines += [f"On the validation split ({users} users, training pairs excluded from the ranking):", ""]
        columns = [key for key in rows[0] if key != "users"]
        lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(row[key] for key in columns) + " |" for row in rows]
        lines.append("")
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def plot_history(report: TrainingReport, history: list[dict[str, Any]], path: Path) -> None:
    """Draw the loss and the validation metric per epoch (the kept epoch marked) over the validation table,
    and save it as a PNG at `path`; without a validation split, the loss alone over a line saying so.
    Raises ImportError without matplotlib."""
    from matplotlib.ticker import MaxNLocator

    metric = report.valid_metric
    fig = figure(10, 6.5 if metric else 4.5)
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 1.25) if metric else (3, 0.3))
    loss_ax = fig.add_subplot(grid[0, 0] if metric else grid[0, :])
    epochs = [int(row["epoch"]) for row in history]
    loss_ax.plot(epochs, [float(row["loss"]) for row in history], color="tab:blue", marker=".")
    loss_ax.set(title="training loss", xlabel="epoch", ylabel="loss")
    axes = [loss_ax]
    if metric:
        metric_ax = fig.add_subplot(grid[0, 1])
        axes.append(metric_ax)
        rows = [row for row in history if metric in row]
        values = [float(row[metric]) for row in rows]
        metric_ax.plot([int(row["epoch"]) for row in rows], values, color="tab:green", marker=".")
        metric_ax.set(title=f"validation {metric}", xlabel="epoch", ylabel=metric)
        if report.best_valid is not None:
            metric_ax.plot(
                [report.best_epoch], [report.best_valid], marker="*", markersize=16, color="tab:red"
            )
            metric_ax.annotate(
                f"kept: epoch {report.best_epoch}\n{metric} {report.best_valid:.4f}",
                (report.best_epoch, report.best_valid),
                xytext=(0.97, 0.06), textcoords="axes fraction", ha="right", va="bottom",
                arrowprops={"arrowstyle": "->", "color": "tab:red"}, color="tab:red",
            )  # fmt: skip
    for ax in axes:
        ax.axvline(report.best_epoch, color="tab:red", linestyle="--", linewidth=1, alpha=0.7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    _draw_table(fig.add_subplot(grid[1, :]), report)
    fig.suptitle(report.one_line(), fontsize=11)
    fig.savefig(path, format="png")


def _draw_table(ax: Any, report: TrainingReport) -> None:
    """The validation table under the curves, or a line saying why there is none."""
    ax.axis("off")
    rows = table_rows(report)
    if not rows:
        ax.text(0.5, 0.5, report.notes[0] if report.notes else "no table", ha="center", va="center")
        return
    columns = [key for key in rows[0] if key != "users"]
    drawn = ax.table(
        cellText=[[row[key] for key in columns] for row in rows],
        colLabels=[key.replace("recall", "Recall").replace("ndcg", "NDCG") for key in columns],
        loc="center",
        cellLoc="center",
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(11)
    drawn.scale(1, 1.6)
    ax.set_title(f"final model on the validation split ({rows[0].get('users', '?')} users)", fontsize=11)
