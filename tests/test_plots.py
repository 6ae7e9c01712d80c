import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from studylib import plots
from studylib.figures import save_figure
from studylib.widgets import frequency_explorer


@pytest.fixture
def per_class():
    rng = np.random.default_rng(0)
    counts = rng.integers(2, 500, 60)
    names = [f"class {i}" for i in range(58)] + ["great white shark", "tiger shark"]
    return pd.DataFrame({"class_name": names, "train_count": counts, "accuracy": rng.random(60),
                         "predictions": rng.integers(0, 30, 60)})


def test_frequency_scatter_highlights_matching_classes(per_class):
    fig = plots.frequency_scatter(per_class, "accuracy", bins=5, highlight="SHARK")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["great white shark", "tiger shark"]
    assert ax.get_xscale() == "log"
    assert len(plots.matching_classes(per_class, "")) == 0
    with pytest.raises(ValueError, match="unknown metric"):
        plots.frequency_scatter(per_class, "recall")
    plt.close("all")


def test_panels_forest_profile_interactive(per_class):
    fig = plots.frequency_panels({"A": per_class, "B": per_class}, "predictions",
                                 correlations={"A": {"r": 0.5, "lo": 0.4, "hi": 0.6}})
    assert len(fig.axes) == 2 and "Spearman 0.50 [0.40, 0.60]" in fig.axes[0].get_title()
    table = pd.DataFrame({"model": ["A", "A", "B", "B"], "measure": ["acc", "pred"] * 2,
                          "r": [0.1, 0.2, 0.3, 0.4], "lo": [0, 0.1, 0.2, 0.3], "hi": [0.2, 0.3, 0.4, 0.5]})
    assert plots.correlation_forest(table).axes[0].get_yticklabels()[0].get_text() == "A"
    plots.frequency_profile(per_class["train_count"], per_class["class_name"])
    fig = plots.interactive_scatter({"A": per_class}, "accuracy")
    assert fig.data[0].text[-1] == "tiger shark"
    plt.close("all")


def test_explorer_redraws_from_its_controls(per_class):
    ex = frequency_explorer({"A": per_class, "B": per_class.assign(accuracy=1 - per_class["accuracy"])})
    ex.search.value = "shark"
    assert ex.info.value == "2 matching classes"
    ex.metric.value = "predictions"
    ex.bins.value = 0
    fig = ex.render()
    assert fig.axes[0].get_ylabel() == "#predictions per class"
    assert len(fig.axes[0].texts) == 2
    with pytest.raises(ValueError, match="at least one model"):
        frequency_explorer({})


def test_save_figure_writes_png_html_and_index(per_class, _isolated_outputs):
    out = _isolated_outputs / "figures"
    p = save_figure(plots.frequency_scatter(per_class), "scatter", notebook="02_x", preset="smoke", caption="c")
    h = save_figure(plots.interactive_scatter({"A": per_class}), "inter", notebook="02_x", preset="smoke")
    html = h.read_text()
    assert p.read_bytes()[:4] == b"\x89PNG" and "plotly.min.js" not in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000         # plotly.js inline: one self-contained file
    index = json.loads((out / "index.json").read_text())
    assert index["02_x__scatter.png"]["preset"] == "smoke"
    assert "| [02_x__scatter.png](02_x__scatter.png) | `02_x` | `smoke` | c |" in (out / "README.md").read_text()
    with pytest.raises(ValueError, match="plain file stem"):
        save_figure(plots.frequency_scatter(per_class), "a/b", notebook="n", preset="p")
    plt.close("all")


def test_sweep_draws_one_line_per_group_and_panel():
    pts = pd.DataFrame({"group": ["CLIP"] * 3 + ["SL"] * 3, "fraction": [0.25, 0.5, 1.0] * 2,
                        "top1": [0.1, 0.2, 0.3, 0.2, 0.3, 0.4], "r": [0.5, 0.4, 0.3, 0.8, 0.8, 0.8],
                        "lo": [0.4, 0.3, 0.2, 0.7, 0.7, 0.7], "hi": [0.6, 0.5, 0.4, 0.9, 0.9, 0.9]})
    fig = plots.sweep(pts, "fraction", "share of the training pairs", logx=True, title="scale")
    left, right = fig.axes
    assert [len(ax.containers) for ax in (left, right)] == [2, 2]          # one error-bar line per group
    assert list(right.containers[0].lines[0].get_ydata()) == [0.1, 0.2, 0.3]   # top-1 of the first group, by x
    assert left.containers[0].has_yerr and not right.containers[0].has_yerr
    assert left.get_xscale() == "log" and left.get_legend() is not None
    levels = pts.assign(level=[0, 1, 2] * 2)
    fig2 = plots.sweep(levels, "level", "caption level", panels=("r",), xticklabels=["a", "b", "c"])
    assert [t.get_text() for t in fig2.axes[0].get_xticklabels()] == ["a", "b", "c"]
    plt.close("all")
