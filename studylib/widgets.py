"""Thin ipywidgets explorers around the pure plots in studylib.plots.

``frequency_explorer(per_class_by_model)`` shows one model's per-class metric
against training frequency, with controls for the model, the metric, the
binning and a class search that highlights matching classes. All drawing is
``plots.frequency_scatter``; this module only wires controls to it, and
``explorer.render()`` redraws with the current control values (tests call it).
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from studylib import plots


class FrequencyExplorer:
    def __init__(self, per_class_by_model: dict[str, pd.DataFrame]):
        if not per_class_by_model:
            raise ValueError("frequency_explorer needs at least one model's per-class table")
        self.tables = per_class_by_model
        self.model = W.Dropdown(options=list(per_class_by_model), description="model")
        self.metric = W.Dropdown(options=[("accuracy", "accuracy"), ("#predictions", "predictions")],
                                 description="metric")
        self.bins = W.IntSlider(value=8, min=0, max=20, description="bins", tooltip="0 = no binning")
        self.scheme = W.ToggleButtons(options=["log", "quantile"], description="binning")
        self.search = W.Text(placeholder="e.g. shark", description="class")
        self.info = W.HTML()
        self.out = W.Output()
        for w in (self.model, self.metric, self.bins, self.scheme, self.search):
            w.observe(lambda _change: self.render(), names="value")
        self.widget = W.VBox([W.HBox([self.model, self.metric]), W.HBox([self.bins, self.scheme]),
                              W.HBox([self.search, self.info]), self.out])

    def render(self):
        """Redraw from the current control values; returns the matplotlib Figure."""
        df = self.tables[self.model.value]
        fig = plots.frequency_scatter(df, self.metric.value, self.bins.value, self.search.value,
                                      title=self.model.value, scheme=self.scheme.value)
        hits = plots.matching_classes(df, self.search.value)
        self.info.value = (f"{len(hits)} matching classes" if self.search.value.strip() else "")
        self.out.clear_output(wait=True)
        with self.out:
            display(fig)
        plt.close(fig)
        return fig

    def _ipython_display_(self):
        self.render()
        display(self.widget)


def frequency_explorer(per_class_by_model: dict[str, pd.DataFrame]) -> FrequencyExplorer:
    return FrequencyExplorer(per_class_by_model)
