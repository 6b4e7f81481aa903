"""The simulated day as a PNG timeline (matplotlib, the `bench` extra)."""

from datetime import datetime, timedelta
from pathlib import Path

from bench.day import END, ROLES, START, Day
from bench.model import NotAvailable

__all__ = ["draw_day"]

_COLOURS = {"session": "#4c72b0", "readonly": "#55a868", "poweruser": "#c44e52"}


def draw_day(day: Day, path: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError:
        raise NotAvailable("needs matplotlib (`pip install -e '.[bench]'`)") from None

    lanes = ["session", *ROLES]
    y = {name: 1.4 * (len(lanes) - i) for i, name in enumerate(lanes)}
    fig, ax = plt.subplots(figsize=(13, 4.6), dpi=110)
    floor = day.policy.floor
    offsets: dict[str, int] = {}
    for grant in day.grants:
        lane = y[grant.name]
        # Alternate half-lanes so a refresh's overlap with the set it replaces shows.
        k = offsets.get(grant.name, 0)
        offsets[grant.name] = k + 1
        base = lane - 0.34 + (0.36 if k % 2 else 0.0)
        colour = _COLOURS[grant.name]
        if grant.name == "session":
            ax.broken_barh([_span(grant.issued, grant.expires)], (base, 0.32), color=colour)
            continue
        served_until = grant.expires - floor
        ax.broken_barh([_span(grant.issued, served_until)], (base, 0.32), color=colour)
        ax.broken_barh([_span(served_until, grant.expires)], (base, 0.32), color=colour, alpha=0.25)
        marker = "v" if grant.why == "background" else "o"
        ax.plot(_num(grant.issued), lane + 0.45, marker, color="black", markersize=4)
    late = START + (END - START) * 0.7
    for at, reason in day.prompts:
        ax.axvline(_num(at), color="#dd8452", linewidth=1.5, linestyle="--")
        ax.annotate(
            f"MFA code: {reason}",
            (_num(at), y["session"] + 0.55),
            xytext=(-4 if at > late else 4, 0),
            textcoords="offset points",
            fontsize=8,
            color="#b05a20",
            va="center",
            ha="right" if at > late else "left",
        )
    for at, profile, ok in day.requests:
        ax.plot(_num(at), y[profile] - 0.5, "|", color="black" if ok else "red", markersize=6)
    ax.set_yticks([y[n] for n in lanes], ["MFA session", *(f"role {r}" for r in ROLES)])
    ax.set_ylim(y[lanes[-1]] - 0.8, y[lanes[0]] + 0.85)
    ax.set_xlim(_num(START), _num(END))
    ax.xaxis.set_major_locator(mdates.HourLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(
        f"A simulated day: {len(day.prompts)} MFA codes, {day.sts_calls} STS calls, "
        f"{len(day.requests)} credential requests, {day.failures} refused",
        fontsize=11,
    )
    legend = [
        Patch(color=_COLOURS["readonly"], label="role credentials: served"),
        Patch(
            color=_COLOURS["readonly"], alpha=0.25, label=f"last {_minutes(floor)}: never served"
        ),
        Line2D([], [], marker="v", color="black", linestyle="", label="background refresh"),
        Line2D([], [], marker="o", color="black", linestyle="", label="fetched on request"),
        Line2D([], [], marker="|", color="black", linestyle="", label="a process asks"),
        Line2D([], [], color="#dd8452", linestyle="--", label="MFA prompt"),
    ]
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=6, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _num(moment: datetime) -> float:
    import matplotlib.dates as mdates

    return float(mdates.date2num(moment))


def _span(start: datetime, end: datetime) -> tuple[float, float]:
    return _num(start), _num(end) - _num(start)


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"
