"""`make dashboards`: draw each Grafana dashboard of deploy/grafana from its own queries over a real scrape.

Grafana itself cannot run here (its server needs a frontend built with Node.js, and no npm registry is
reachable), so this draws what Grafana would: the scene of hack/observability/scene.py runs (the controller,
real downloads, a real llama-server under a changing chat load, the recorded DCGM exposition, the gateway), Prometheus scrapes
it for a few minutes, then every panel's query runs as a range query and is drawn where the dashboard places it:
time series as lines, stats as their last value, tables as rows. The PNGs go to docs/images/dashboards, which
docs/dashboards.md shows.

    python -m hack.observability.render [--out docs/images/dashboards]

Uses the running cluster named by LLMKUBE_TEST_KUBECONFIG, or starts one.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import start_blocking_portal

from hack.localcluster.base import ClusterBase
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.reused import REUSE_ENV, ReusedCluster
from hack.observability.dashboards import dashboard_files, load, substitute, variable_values
from hack.observability.prometheus import Prometheus
from hack.observability.scene import Scene, chat_traffic, observed_scene

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "images" / "dashboards"
#: Chat clients over time, in (clients, seconds) steps: idle, light, saturated (more clients than slots), easing.
LOAD_PROFILE = ((0, 30), (1, 60), (4, 120), (2, 90))

BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
PALETTE = ("#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a")
ROW_HEIGHT_IN = 0.32  # one Grafana grid unit
LEGEND_ENTRIES = 8
WIDTH_IN = 16.0


def _legend(template: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text.strip() or "value"


def _format(unit: str, value: float) -> str:
    if value != value:  # NaN
        return "-"
    scaled = [
        ("bytes", 1024.0, ("B", "KiB", "MiB", "GiB", "TiB")),
        ("Bps", 1024.0, ("B/s", "KiB/s", "MiB/s", "GiB/s")),
    ]
    for name, base, suffixes in scaled:
        if unit == name:
            index = 0
            while abs(value) >= base and index < len(suffixes) - 1:
                value, index = value / base, index + 1
            return f"{value:.3g} {suffixes[index]}"
    suffix = {
        "percentunit": "%", "percent": "%", "s": " s", "ops": "/s", "reqps": " req/s", "watt": " W",
        "celsius": " °C", "hertz": " Hz",
    }.get(unit, "")  # fmt: skip
    if unit == "percentunit":
        value *= 100
    if unit == "hertz" and value >= 1e6:
        return f"{value / 1e6:.4g} MHz"
    if abs(value) >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.3g}{suffix}"


def _draw_panel(
    fig: Any, panel: dict[str, Any], rect: tuple[float, float, float, float], data: list[Any]
) -> None:
    ax = fig.add_axes(rect, facecolor=PANEL)
    ax.set_title(panel["title"], color=TEXT, fontsize=9, loc="left", pad=4)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.tick_params(colors=TEXT, labelsize=7)
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit = defaults.get("unit", "none")
    kind = panel["type"]
    if kind == "timeseries":
        from matplotlib.ticker import MultipleLocator

        highest = 0.0
        for index, (label, points) in enumerate(data):
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            highest = max([highest, *(y for y in ys if y == y)])
            shown = label if index < LEGEND_ENTRIES else None
            ax.plot(xs, ys, color=PALETTE[index % len(PALETTE)], linewidth=1.2, label=shown)
        if len(data) > LEGEND_ENTRIES:
            ax.plot([], [], color=GRID, label=f"... and {len(data) - LEGEND_ENTRIES} more")
        ax.grid(color=GRID, linewidth=0.5)
        ax.yaxis.set_major_formatter(_formatter(unit))
        ax.xaxis.set_major_locator(MultipleLocator(60))
        ax.xaxis.set_major_formatter(_time_formatter())
        if defaults.get("min") == 0:
            ax.set_ylim(bottom=0, top=highest * 1.25 if highest > 0 else 1)
        else:  # room above the lines for the legend, as Grafana keeps its legend out of the plot
            low, high = ax.get_ylim()
            ax.set_ylim(low, high + (high - low) * 0.25)
        if data:
            ax.legend(loc="upper left", fontsize=6, frameon=False, labelcolor=TEXT, ncol=2)
        return
    ax.set_xticks([])
    ax.set_yticks([])
    if kind == "stat":
        values = [(label, points[-1][1]) for label, points in data if points]
        for index, (label, value) in enumerate(values):
            x = (index + 0.5) / max(len(values), 1)
            ax.text(
                x,
                0.5,
                _format(unit, value),
                color=PALETTE[0],
                fontsize=16,
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.text(x, 0.15, label, color=TEXT, fontsize=7, ha="center", transform=ax.transAxes)
    elif kind == "table":
        rows = [label for label, _ in data][:8] or ["(none)"]
        for index, row in enumerate(rows):
            ax.text(
                0.02,
                0.85 - index * 0.11,
                row,
                color=TEXT,
                fontsize=7,
                family="monospace",
                transform=ax.transAxes,
            )


def _formatter(unit: str) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: _format(unit, value))


def _time_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: time.strftime("%H:%M", time.localtime(value)))


#: Labels a table leaves out: where a series was scraped, not what it describes.
TARGET_LABELS = frozenset({"__name__", "job", "instance", "endpoint", "container", "service", "pod"})


def _series(
    prometheus: Prometheus, expr: str, legend: str, *, table: bool, start: float, end: float, step: float
) -> list[Any]:
    found = []
    for item in prometheus.query_range(expr, start=start, end=end, step=step):
        points = [(float(t), float(v)) for t, v in item["values"]]
        if table:
            labels = {k: v for k, v in item["metric"].items() if k not in TARGET_LABELS}
            label = "  ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            label += f"  value={_format('none', points[-1][1])}" if points else ""
        else:
            label = _legend(legend, item["metric"])
        found.append((label, points))
    return sorted(found, key=lambda entry: entry[0])


def draw(path: Path, prometheus: Prometheus, *, start: float, end: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dashboard = load(path)
    values = variable_values(dashboard)
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    height = bottom * ROW_HEIGHT_IN + 0.6
    fig = plt.figure(figsize=(WIDTH_IN, height), facecolor=BACKGROUND)
    fig.text(0.01, 1 - 0.3 / height, dashboard["title"], color=TEXT, fontsize=13, va="center")
    step = max(5.0, (end - start) / 240)
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        top = 0.6 + grid["y"] * ROW_HEIGHT_IN
        if panel["type"] == "row":
            fig.text(0.01, 1 - (top + 0.2) / height, panel["title"], color=TEXT, fontsize=11, weight="bold")
            continue
        margin = 0.35
        rect = (
            grid["x"] / 24 + 0.035 / 1,
            1 - (top + grid["h"] * ROW_HEIGHT_IN) / height + margin / height,
            grid["w"] / 24 - 0.045,
            (grid["h"] * ROW_HEIGHT_IN - margin - 0.25) / height,
        )
        data = []
        for target in panel.get("targets") or []:
            expr = substitute(target["expr"], values)
            data += _series(
                prometheus,
                expr,
                target.get("legendFormat", ""),
                table=panel["type"] == "table",
                start=start,
                end=end,
                step=step,
            )
        _draw_panel(fig, panel, rect, data)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{path.stem}.png"
    fig.savefig(target, dpi=72, facecolor=BACKGROUND)
    plt.close(fig)
    _to_palette(target)
    return target


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _blend(colour: str, background: str, share: float) -> tuple[int, int, int]:
    (r, g, b), (br, bg, bb) = _hex_rgb(colour), _hex_rgb(background)
    return (
        round(r * share + br * (1 - share)),
        round(g * share + bg * (1 - share)),
        round(b * share + bb * (1 - share)),
    )


def _palette_colours() -> list[tuple[int, int, int]]:
    """The drawing's own colours and their blends into the two backgrounds (the anti-aliased edges of lines and
    letters): every pixel the figure has is close to one of these, so a palette of them loses nothing visible."""
    colours = [_hex_rgb(c) for c in (BACKGROUND, PANEL, TEXT, GRID, *PALETTE)]
    for colour in (*PALETTE, TEXT, GRID):
        for background in (BACKGROUND, PANEL):
            colours += [_blend(colour, background, share) for share in (0.25, 0.5, 0.75)]
    return list(dict.fromkeys(colours))


def _to_palette(path: Path) -> None:
    """Rewrite the PNG with a palette of the drawing's colours: a quarter of the bytes of full colour, so the
    pictures stay a few tens of KiB in the repository."""
    from PIL import Image

    palette = Image.new("P", (1, 1))
    flat = [value for colour in _palette_colours() for value in colour]
    palette.putpalette(flat + [0] * (768 - len(flat)))
    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)


@contextlib.contextmanager
def cluster() -> Iterator[ClusterBase]:
    import os

    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        yield ReusedCluster(Path(reuse))
        return
    with LocalCluster.start() as started:
        yield started


async def _profile(scene: Scene) -> None:
    for clients, seconds in LOAD_PROFILE:
        print(f"==> {clients} chat clients for {seconds}s", flush=True)
        with anyio.move_on_after(seconds):
            if clients:
                await chat_traffic(scene.llama_server, clients=clients)
            else:
                await anyio.sleep_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.observability.render", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with (
        cluster() as running,
        tempfile.TemporaryDirectory(prefix="llmkube-render-") as workdir,
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(observed_scene(running, workdir=Path(workdir), clients=0)) as scene,
    ):
        start = time.time()
        portal.call(_profile, scene)
        end = time.time()
        for path in dashboard_files():
            print(f"==> drew {draw(path, scene.prometheus, start=start, end=end, out=args.out)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
