import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from studylib import interactive, plots
from studylib.figures import save_figure
from studylib.robustness import fit_linear_trend
from studylib.widgets import frequency_explorer, robustness_explorer


@pytest.fixture
def per_class():
    rng = np.random.default_rng(0)
    counts = rng.integers(2, 500, 60)
    names = [f"class {i}" for i in range(58)] + ["great white shark", "tiger shark"]
    return pd.DataFrame(
        {
            "class_name": names,
            "train_count": counts,
            "accuracy": rng.random(60),
            "predictions": rng.integers(0, 30, 60),
        }
    )


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
    fig = plots.frequency_panels(
        {"A": per_class, "B": per_class}, "predictions", correlations={"A": {"r": 0.5, "lo": 0.4, "hi": 0.6}}
    )
    assert len(fig.axes) == 2 and "Spearman 0.50 [0.40, 0.60]" in fig.axes[0].get_title()
    table = pd.DataFrame(
        {
            "model": ["A", "A", "B", "B"],
            "measure": ["acc", "pred"] * 2,
            "r": [0.1, 0.2, 0.3, 0.4],
            "lo": [0, 0.1, 0.2, 0.3],
            "hi": [0.2, 0.3, 0.4, 0.5],
        }
    )
    assert plots.correlation_forest(table).axes[0].get_yticklabels()[0].get_text() == "A"
    plots.frequency_profile(per_class["train_count"], per_class["class_name"])
    fig = interactive.frequency_figure({"A": per_class}, ["A"], "accuracy")
    assert fig.data[0].text[-1] == "tiger shark"
    plt.close("all")


def test_explorer_redraws_from_its_controls(per_class, monkeypatch):
    monkeypatch.delenv("STUDYLIB_BATCH", raising=False)
    ex = frequency_explorer(
        {"A": per_class, "B": per_class.assign(accuracy=1 - per_class["accuracy"])}, preset="smoke"
    )
    first = ex.render()  # starts with the first model beside the last, #predictions
    assert [t.name for t in first.data][:2] == [
        "A",
        "mean in 8 log bins",
    ] and "preset smoke" in first.layout.title.text
    assert "A vs B" in first.layout.title.text and first.layout.yaxis.type == "log"
    ex.compare.value = "(none)"
    ex.metric.value = "accuracy"
    ex.search.value = "shark"
    assert ex.info.value == "2 matching classes"
    hits = [t for t in ex.figure.data if t.name == "classes matching 'shark'"][0]
    assert list(hits.text) == ["great white shark", "tiger shark"]
    assert set(hits.textposition) == {"top center", "bottom center"}  # neighbouring labels alternate
    ex.compare.value = "B"  # side by side, one colour per model
    colours = {t.name: t.marker.color for t in ex.figure.data if t.name in ("A", "B")}
    assert colours["A"] != colours["B"] and ex.figure.layout.xaxis2 is not None
    ex.metric.value = "predictions"
    fig = ex.figure
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    points = [t for t in fig.data if t.name == "A"][0]
    assert (
        min(points.y) >= 1 and min(points.customdata) == per_class["predictions"].min()
    )  # zero-prediction classes stay
    assert "<b>%{text}</b>" in points.hovertemplate  # hover names the class
    levels = [t for t in fig.data if t.name and t.name.startswith("unbiased")]
    assert levels and levels[0].text[0] == f"unbiased: {per_class['predictions'].mean():.3g} per class"
    ex.bins.value = 0
    assert not any(t.name and t.name.startswith("mean in") for t in ex.figure.data)
    ex.scheme.value = "quantile"
    ex.bins.value = 4
    assert any(t.name == "mean in 4 quantile bins" for t in ex.figure.data)
    with pytest.raises(ValueError, match="at least one model"):
        frequency_explorer({})
    with pytest.raises(ValueError, match="unknown model"):
        interactive.frequency_figure({"A": per_class}, ["Z"])


def test_in_a_batch_execution_explorers_build_no_widget(per_class, monkeypatch, capsys):
    """papermill executions (STUDYLIB_BATCH=1): the first view as a figure and a note, no comm traffic."""
    import ipywidgets

    monkeypatch.setenv("STUDYLIB_BATCH", "1")
    made = []
    monkeypatch.setattr(ipywidgets.Widget, "open", lambda self: made.append(type(self).__name__))
    ex = frequency_explorer({"A": per_class, "B": per_class}, preset="quick")
    assert not made and "A vs B" in ex.render().layout.title.text
    shown = []
    monkeypatch.setattr("studylib.widgets.display", lambda obj: shown.append(obj))
    ex._ipython_display_()
    assert shown[0] is ex.figure and "JupyterLab" in shown[1].data
    with pytest.raises(ValueError, match="at least one model"):
        frequency_explorer({})
    ids = np.linspace(0.1, 0.6, 6)
    base = pd.DataFrame({"photo": ids, "sketch": ids * 0.5}, index=[f"SL {i}" for i in range(6)])
    er = pd.DataFrame(
        {
            "model": ["CLIP"],
            "shift": ["sketch"],
            "group": ["web"],
            "id": [0.3],
            "ood": [0.1],
            "er": [0.0],
            "lo": [-0.1],
            "hi": [0.1],
        }
    )
    rob = robustness_explorer({"sketch": fit_linear_trend(ids, ids * 0.5, n_boot=50)}, base, er)
    assert not made and "photo → sketch" in rob.render().layout.title.text


def test_robustness_explorer_filters_shift_and_group(monkeypatch):
    monkeypatch.delenv("STUDYLIB_BATCH", raising=False)
    ids = np.linspace(0.1, 0.6, 8)
    base = pd.DataFrame(
        {"photo": ids, "sketch": ids * 0.5, "pose": ids * 0.4}, index=[f"SL {i}" for i in range(8)]
    )
    trends = {s: fit_linear_trend(base["photo"], base[s], n_boot=50) for s in ("sketch", "pose")}
    er = pd.DataFrame(
        {
            "model": ["CLIP web", "CLIP curated"] * 2,
            "shift": ["sketch"] * 2 + ["pose"] * 2,
            "group": ["web", "curated"] * 2,
            "id": [0.3, 0.4] * 2,
            "ood": [0.2, 0.1] * 2,
            "er": [0.1, -0.1] * 2,
            "lo": [0.0, -0.2] * 2,
            "hi": [0.2, 0.0] * 2,
        }
    )
    ex = robustness_explorer(trends, base, er, informative=["sketch"], preset="smoke")
    fig = ex.render()
    names = [t.name for t in fig.data]
    assert "web" in names and "curated" in names and "baseline (SL, standard data)" in names
    assert "photo → sketch" in fig.layout.title.text and "not informative" not in fig.layout.title.text
    ex.shift.value = "pose"
    assert "not informative" in ex.figure.layout.title.text and ex.figure.layout.plot_bgcolor == "#f2f2f2"
    ex.group.value = "web"
    assert "curated" not in [t.name for t in ex.figure.data]
    web = [t for t in ex.figure.data if t.name == "web"][0]
    assert list(web.text) == ["CLIP web"] and "ER %{customdata[2]:+.3f}" in web.hovertemplate
    with pytest.raises(ValueError, match="lacks columns"):
        robustness_explorer(trends, base, er.drop(columns="group"))


def test_save_figure_writes_png_html_and_index(per_class, _isolated_outputs):
    out = _isolated_outputs / "figures"
    p = save_figure(
        plots.frequency_scatter(per_class), "scatter", notebook="02_x", preset="smoke", caption="c"
    )
    h = save_figure(
        interactive.frequency_figure({"A": per_class}, ["A"]), "inter", notebook="02_x", preset="smoke"
    )
    html = h.read_text()
    assert p.read_bytes()[:4] == b"\x89PNG" and "plotly.min.js" not in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js inline: one self-contained file
    s = save_figure(
        plots.frequency_scatter(per_class),
        "params",
        notebook="02_x",
        preset="quick",
        caption="what",
        parameters={"zipf_alpha": 1.5, "seed": 0},
    )
    index = json.loads((out / "index.json").read_text())
    assert index["02_x__scatter.png"]["preset"] == "smoke"
    assert index["02_x__params.png"]["parameters"] == {"seed": 0, "zipf_alpha": 1.5}  # the full parameter set
    assert s.is_file()
    assert (
        "| [02_x__scatter.png](02_x__scatter.png) | `02_x` | `smoke` | c |" in (out / "README.md").read_text()
    )
    with pytest.raises(ValueError, match="plain file stem"):
        save_figure(plots.frequency_scatter(per_class), "a/b", notebook="n", preset="p")
    plt.close("all")


def test_sweep_draws_one_line_per_group_and_panel():
    pts = pd.DataFrame(
        {
            "group": ["CLIP"] * 3 + ["SL"] * 3,
            "fraction": [0.25, 0.5, 1.0] * 2,
            "top1": [0.1, 0.2, 0.3, 0.2, 0.3, 0.4],
            "r": [0.5, 0.4, 0.3, 0.8, 0.8, 0.8],
            "lo": [0.4, 0.3, 0.2, 0.7, 0.7, 0.7],
            "hi": [0.6, 0.5, 0.4, 0.9, 0.9, 0.9],
        }
    )
    fig = plots.sweep(pts, "fraction", "share of the training pairs", logx=True, title="scale")
    left, right = fig.axes
    assert [len(ax.containers) for ax in (left, right)] == [2, 2]  # one error-bar line per group
    assert list(right.containers[0].lines[0].get_ydata()) == [0.1, 0.2, 0.3]  # top-1 of the first group, by x
    assert left.containers[0].has_yerr and not right.containers[0].has_yerr
    assert left.get_xscale() == "log" and left.get_legend() is None and len(fig.legends) == 1  # one, below
    levels = pts.assign(level=[0, 1, 2] * 2)
    fig2 = plots.sweep(levels, "level", "caption level", panels=("r",), xticklabels=["a", "b", "c"])
    assert [t.get_text() for t in fig2.axes[0].get_xticklabels()] == ["a", "b", "c"]
    plt.close("all")


def test_comparison_figures_show_intervals_and_chance():
    """Chapter 2d's scale points carry their t intervals over seeds on every panel and a chance line on top-1;
    chapter 4's tail bars carry their bootstrap intervals and the chance level."""
    pts = pd.DataFrame(
        {
            "group": ["CLIP"] * 2 + ["SL"] * 2,
            "fraction": [0.25, 1.0] * 2,
            **{c: [0.2, 0.3, 0.25, 0.35] for c in ("top1", "r", "NC1")},
            **{f"{c} lo": [0.1, 0.2, 0.15, 0.25] for c in ("top1", "r", "NC1")},
            **{f"{c} hi": [0.3, 0.4, 0.35, 0.45] for c in ("top1", "r", "NC1")},
            "chance": 0.01,
        }
    )
    fig = plots.sweep(pts, "fraction", "share", panels=("top1", "r", "NC1"))
    assert all(ax.containers[0].has_yerr for ax in fig.axes)
    assert any(list(line.get_ydata()) == [0.01, 0.01] for line in fig.axes[0].lines)  # chance on top-1
    scores = pd.DataFrame(
        {
            "model": ["CLIP", "CLIP", "SL", "SL"],
            "method": ["raw", "adjusted"] * 2,
            "r #pred": [0.5, 0.2, 0.7, 0.3],
            "r #pred lo": [0.4, 0.1, 0.6, 0.2],
            "r #pred hi": [0.6, 0.3, 0.8, 0.4],
            "tail": [0.1, 0.2, 0.05, 0.15],
            "tail lo": [0.05, 0.15, 0.0, 0.1],
            "tail hi": [0.15, 0.25, 0.1, 0.2],
            "chance": 0.02,
        }
    )
    fig = plots.debiasing(scores)
    bars = fig.axes[1]
    assert len(bars.containers) >= 2 and any(
        c.__class__.__name__ == "ErrorbarContainer" for c in bars.containers
    )
    assert any(list(line.get_ydata()) == [0.02, 0.02] for line in bars.lines)
    plt.close("all")


def test_export_html_is_self_contained(tmp_path, per_class):
    """An executed notebook becomes one HTML page: PNG inline, plotly.js inline once, a note for widgets,
    no script fetched from the network."""
    import base64
    import re

    import nbformat
    from plotly.offline import get_plotlyjs

    from studylib.export import export_html

    fig = json.loads(interactive.frequency_figure({"A": per_class}, ["A"], "accuracy").to_json())
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 32).decode()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Chapter"),
        nbformat.v4.new_code_cell(
            "fig",
            outputs=[
                nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
                nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": fig}),
                nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": fig}),
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "application/vnd.jupyter.widget-view+json": {
                            "model_id": "x",
                            "version_major": 2,
                            "version_minor": 0,
                        },
                        "text/plain": "VBox(...)",
                    },
                ),
            ],
        ),
    ]
    src = tmp_path / "ch.ipynb"
    nbformat.write(nb, src)
    html = export_html(src, tmp_path / "html" / "ch.html").read_text()
    assert f"data:image/png;base64,{png}" in html
    lib = len(get_plotlyjs())
    assert (
        html.count("Plotly.newPlot") == 2 and lib < len(html) < 1.5 * lib
    )  # two figures, plotly.js inline once
    assert "open the chapter in JupyterLab" in html and "VBox(...)" not in html
    assert not re.findall(r"<script[^>]*src=[\"']https?://", html) and "unpkg.com" not in html
    assert "<title>Chapter</title>" in html  # the page's title is its first heading
    assert 'id="studylib-show-code"' in html and 'href="index.html"' in html  # the show-code switch
    with pytest.raises(ValueError, match="not a readable notebook"):
        export_html(tmp_path / "missing.ipynb", tmp_path / "x.html")


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _overlap(fig):
    """Pairs of visible text boxes (labels, line values) of one panel that overlap."""
    r = fig.canvas.get_renderer()
    bad = []
    for ax in fig.axes:
        boxes = [(t.get_text(), t.get_window_extent(r)) for t in ax.texts if t.get_visible() and t.get_text()]
        bad += [(a, b) for i, (a, x) in enumerate(boxes) for b, y in boxes[i + 1 :] if x.overlaps(y)]
    return bad


def test_figures_have_one_legend_below_labelled_lines_and_titles(per_class, _isolated_outputs):
    """Issue 14's figure polish: one legend per figure outside the panels, reference lines stating their value,
    labels that do not collide, an overall title with the preset, uninformative panels greyed, budget arrows."""
    crowded = per_class.copy()
    crowded.loc[58:, "train_count"] = 100  # two highlighted classes on the same spot
    crowded.loc[58:, "predictions"] = [7, 8]
    fig = plots.frequency_panels({"A": crowded, "B": crowded}, "predictions", highlight="shark")
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(set(labels)) and any(x.startswith("unbiased") for x in labels)
    assert f"unbiased: {crowded['predictions'].mean():.3g} per class" in _texts(fig)
    assert _texts(fig).count("tiger shark") == 2 and not _overlap(fig)
    assert all(t.get_text() != "$\\mathdefault{-10^{0}}$" for t in fig.axes[0].get_yticklabels())
    assert fig.axes[0].get_ylim()[0] > -1  # no negative #predictions on the axis
    assert save_figure(fig, "f", notebook="02_x", preset="smoke", caption="per-class predictions").is_file()
    assert fig._suptitle.get_text() == "Per-class predictions · preset smoke"
    save_figure(fig, "f", notebook="02_x", preset="smoke", caption="per-class predictions")
    assert fig._suptitle.get_text().count("preset") == 1  # saved twice, titled once
    swept = plots.sweep(
        pd.DataFrame({"group": ["a"], "x": [1], "r": [0.5], "top1": [0.2]}), "x", "x", title="Sweep"
    )
    save_figure(swept, "s", notebook="02_x", preset="quick")
    assert swept._suptitle.get_text() == "Sweep · preset quick"
    plt.close("all")


def test_robustness_panels_grey_uninformative_shifts_and_point_budgets_up():
    ids = np.linspace(0.1, 0.6, 6)
    base = pd.DataFrame({"label": [f"SL {i}" for i in range(6)], "id": ids, "ood": ids * 0.5})
    trends = {s: fit_linear_trend(base["id"], base["ood"], n_boot=50) for s in ("sketch", "pose")}
    others = pd.DataFrame(
        {
            "label": ["flickr n=1", "flickr n=2"],
            "id": [0.3, 0.2],
            "ood": [0.1, 0.12],
            "group": ["flickr"] * 2,
            "er": [0.01, 0.03],
            "budget": [3000, 6000],
        }
    )
    fig = plots.robustness_panels(
        trends,
        {"sketch": base, "pose": base},
        {"sketch": others, "pose": others},
        connect="group",
        informative=["sketch"],
    )
    sketch, pose = fig.axes
    assert "not informative" in pose.get_title() and "not informative" not in sketch.get_title()
    assert pose.get_facecolor() != sketch.get_facecolor()
    assert "flickr: ER +0.020" in [t.get_text() for t in sketch.texts]
    arrows = [c for c in sketch.texts if getattr(c, "arrow_patch", None) is not None]
    assert len(arrows) == 1  # from the 3000-pair run to the 6000-pair run
    start, end = arrows[0].xyann, arrows[0].xy
    assert np.isclose(start[0], plots_logit(0.3)) and np.isclose(end[0], plots_logit(0.2))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "arrow: from the smaller to the larger budget" in legend and len(fig.legends) == 1
    plt.close("all")


def plots_logit(p):
    from studylib.robustness import logit

    return float(logit(np.array(p)))


def test_a_sessions_figures_record_the_chapters_parameter_values(per_class, _isolated_outputs):
    """What the figure index records: the preset, the values the chapter passes (0 resolved to the preset's
    value) and its extras, not every derived setting (the preset fixes those)."""
    from studylib.config import PRESETS
    from studylib.session import Session

    s = Session(
        "02_x", "smoke", overrides=dict(zipf_alpha=1.5, epochs=0), extras=dict(highlight=("shark", str))
    )
    assert s.parameters == {
        "preset": "smoke",
        "zipf_alpha": 1.5,
        "epochs": PRESETS["smoke"]["epochs"],
        "highlight": "shark",
    }
    s.save(plots.frequency_scatter(per_class), "f", "c")
    index = json.loads((_isolated_outputs / "figures" / "index.json").read_text())
    assert index["02_x__f.png"]["parameters"] == s.parameters
    plt.close("all")


def test_the_index_lists_every_page_and_links_every_claim_to_its_chapter(tmp_path):
    import pandas as pd

    from studylib.export import claim_link, write_index

    (tmp_path / "02_imbalance.html").write_text(
        "<html><head><title>Chapter 2 · Imbalance</title></head></html>"
    )
    table = pd.DataFrame(
        {
            "chapter": ["02_imbalance", "03b_dino"],
            "claim": ["C1: CLIP is less biased than SL", "C10: far fewer - unique"],
            "quantity": ["q", "q"],
            "result": ["+0.1 [0.0, 0.2]", "not run yet (DINO)"],
            "verdict": ["reproduced", "not run"],
        }
    )
    text = write_index(tmp_path, table, "quick").read_text()
    assert '<a href="02_imbalance.html">Chapter 2 · Imbalance</a>' in text
    assert f'href="{claim_link("02_imbalance.html", "C1: CLIP is less biased than SL")}"' in text
    assert (
        claim_link("p.html", "C10: far fewer - unique")
        == "p.html#:~:text=C10%3A%20far%20fewer%20%2D%20unique"
    )
    assert "C10: far fewer - unique</td>" in text  # a chapter without a page: the claim, unlinked
