"""Thin ipywidgets explorers around the pure plotly figures in studylib.interactive.

* ``frequency_explorer(per_class_by_model)`` (chapter 2): one model's per-class metric
  against training frequency, or two side by side; controls for the model, a second model
  to compare with, the metric, the binning and a class search that rings and names matching
  classes; hover names every class; one colour per model.
* ``robustness_explorer(trends, baseline, models)`` (chapter 1): pick a shift and a group
  (a model family or a data source) and see the models against the baseline's effective-
  robustness line; hover gives each model's accuracies and ER.

All drawing is in ``studylib.interactive``; ``explorer.render()`` redraws with the current
control values and returns the plotly Figure (tests and the browser test call it).

In a batch execution (papermill via ``studylib run``, which sets ``STUDYLIB_BATCH=1``) there is
no one to move a control: the explorers then build no widget at all (no comm traffic: a papermill
run once hung on chapter 1's explorer cell, kernel idle, client waiting) and show their first
figure, still interactive for hovering, with a note on running the cell in JupyterLab for the
controls.
"""

from __future__ import annotations

import os

import ipywidgets as W
import pandas as pd
from IPython.display import Markdown, display

from studylib import interactive

NONE = "(none)"
ALL = "all groups"
BATCH_NOTE = (
    "*Explorer: the figure above is its starting view (hover works). Run this cell in JupyterLab "
    "(`make lab`) for its controls.*"
)


def live() -> bool:
    """Whether explorers should build their controls: not in a batch execution (``STUDYLIB_BATCH``)."""
    return os.environ.get("STUDYLIB_BATCH", "") in ("", "0")


class Static:
    """An explorer's first view without controls (batch executions): its figure and a note."""

    def __init__(self, figure):
        self.figure = figure

    def render(self):
        return self.figure

    def _ipython_display_(self):
        display(self.figure)
        display(Markdown(BATCH_NOTE))


class _Explorer:
    controls: tuple = ()

    def _wire(self, rows):
        self.out = W.Output()
        for w in self.controls:
            w.observe(lambda _change: self.render(), names="value")
        self.widget = W.VBox([*rows, self.out])

    def _show(self, fig):
        self.figure = fig
        self.out.clear_output(wait=True)
        with self.out:
            display(fig)
        return fig

    def _ipython_display_(self):
        self.render()
        display(self.widget)


class FrequencyExplorer(_Explorer):
    def __init__(self, per_class_by_model: dict[str, pd.DataFrame], preset: str | None = None):
        first, other, metric = start(per_class_by_model)
        self.tables, self.preset = per_class_by_model, preset
        names = list(per_class_by_model)
        self.model = W.Dropdown(options=names, value=first, description="model")
        self.compare = W.Dropdown(options=[NONE, *names], value=other or NONE, description="compare with")
        self.metric = W.Dropdown(
            options=[("accuracy", "accuracy"), ("#predictions", "predictions")],
            value=metric,
            description="metric",
        )
        self.bins = W.IntSlider(value=8, min=0, max=20, description="bins", tooltip="0 = no binning")
        self.scheme = W.ToggleButtons(options=["log", "quantile"], description="binning")
        self.search = W.Text(placeholder="e.g. shark", description="class")
        self.info = W.HTML()
        self.controls = (self.model, self.compare, self.metric, self.bins, self.scheme, self.search)
        self._wire(
            [
                W.HBox([self.model, self.compare]),
                W.HBox([self.metric, self.bins]),
                W.HBox([self.scheme]),
                W.HBox([self.search, self.info]),
            ]
        )

    def render(self):
        """Redraw from the current control values; returns the plotly Figure."""
        models = [self.model.value] + (
            [self.compare.value] if self.compare.value not in (NONE, self.model.value) else []
        )
        fig = interactive.frequency_figure(
            self.tables,
            models,
            self.metric.value,
            self.bins.value,
            self.scheme.value,
            self.search.value,
            preset=self.preset,
        )
        hits = interactive.matching_classes(self.tables[self.model.value], self.search.value)
        self.info.value = f"{len(hits)} matching classes" if self.search.value.strip() else ""
        return self._show(fig)


def start(per_class_by_model: dict) -> tuple:
    """The explorer's first view: the first model beside the last, by #predictions (the bias at a glance)."""
    if not per_class_by_model:
        raise ValueError("frequency_explorer needs at least one model's per-class table")
    names = list(per_class_by_model)
    return names[0], (names[-1] if len(names) > 1 else None), "predictions"


def frequency_explorer(per_class_by_model: dict[str, pd.DataFrame], preset: str | None = None):
    """A :class:`FrequencyExplorer`, or its first view alone in a batch execution (:func:`live`)."""
    if live():
        return FrequencyExplorer(per_class_by_model, preset)
    first, other, metric = start(per_class_by_model)
    return Static(interactive.frequency_figure(per_class_by_model, [first, other], metric, preset=preset))


class RobustnessExplorer(_Explorer):
    def __init__(
        self,
        trends: dict,
        baseline: pd.DataFrame,
        models: pd.DataFrame,
        informative=None,
        id_name: str = "photo",
        preset: str | None = None,
    ):
        """``trends``: shift -> LinearTrend; ``baseline``: accuracy table of the baseline models (rows: labels,
        columns: domains); ``models``: an ER table (``model, shift, id, ood, er, lo, hi``) with a ``group`` column;
        ``informative``: the shifts where ER is meaningful (others are shown greyed)."""
        _check_robustness(trends, models)
        self.trends, self.baseline, self.models, self.id_name, self.preset = (
            trends,
            baseline,
            models,
            id_name,
            preset,
        )
        self.informative = set(trends) if informative is None else set(informative)
        shifts = [(s if s in self.informative else f"{s} (not informative)", s) for s in trends]
        self.shift = W.Dropdown(options=shifts, description="shift")
        self.group = W.Dropdown(
            options=[ALL, *dict.fromkeys(models["group"])], value=ALL, description="group"
        )
        self.controls = (self.shift, self.group)
        self._wire([W.HBox([self.shift, self.group])])

    def render(self):
        """Redraw from the current control values; returns the plotly Figure."""
        return self._show(
            robustness_view(
                self.trends,
                self.baseline,
                self.models,
                self.shift.value,
                self.group.value,
                self.informative,
                self.id_name,
                self.preset,
            )
        )


def _check_robustness(trends: dict, models: pd.DataFrame) -> None:
    if not trends:
        raise ValueError("robustness_explorer needs at least one shift's baseline trend")
    missing = {"model", "shift", "group", "id", "ood", "er", "lo", "hi"} - set(models.columns)
    if missing:
        raise ValueError(f"parameter 'models' lacks columns {sorted(missing)}")


def robustness_view(
    trends, baseline, models, shift, group=ALL, informative=None, id_name="photo", preset=None
):
    """The robustness explorer's figure for one shift and group (``ALL``: every group)."""
    sub = models[models["shift"] == shift]
    if group != ALL:
        sub = sub[sub["group"] == group]
    base = pd.DataFrame(
        {"label": baseline.index, "id": baseline[id_name].to_numpy(), "ood": baseline[shift].to_numpy()}
    )
    shown = informative is None or shift in informative
    return interactive.robustness_figure(trends[shift], base, sub, shift, id_name, shown, preset=preset)


def robustness_explorer(
    trends: dict,
    baseline: pd.DataFrame,
    models: pd.DataFrame,
    informative=None,
    id_name: str = "photo",
    preset: str | None = None,
):
    """A :class:`RobustnessExplorer`, or its first view alone in a batch execution (:func:`live`)."""
    if live():
        return RobustnessExplorer(trends, baseline, models, informative, id_name, preset)
    _check_robustness(trends, models)
    return Static(
        robustness_view(
            trends,
            baseline,
            models,
            next(iter(trends)),
            ALL,
            None if informative is None else set(informative),
            id_name,
            preset,
        )
    )
