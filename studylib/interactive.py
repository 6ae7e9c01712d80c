"""Pure plotly figure builders for the explorers: data in, ``plotly.graph_objects.Figure`` out.

Why plotly here: a reader of an explorer wants to hover a point and read its class or
model name. ``studylib.widgets`` wires controls to these functions; the static figures of
the chapters stay matplotlib (``studylib.plots``).

* :func:`frequency_figure`: per-class accuracy or #predictions against training frequency,
  one panel per model (one or two side by side), one colour per model, binned means, the
  unbiased reference level, searched classes ringed and named.
* :func:`robustness_figure`: ID against OOD accuracy on logit axes for one shift, the
  baseline line with its 95% band, the baseline models and any other models coloured by
  group, hover giving each model's accuracies and effective robustness.

Long because two plotly figures, each split into private trace builders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studylib import metrics as M
from studylib.plots import METRIC_LABELS, PALETTE, matching_classes
from studylib.robustness import logit

HIGHLIGHT = "crimson"
ACC_TICKS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def _check(metric: str, models, per_class_by_model: dict):
    if metric not in METRIC_LABELS:
        raise ValueError(f"unknown metric {metric!r}: use {', '.join(METRIC_LABELS)}")
    if not models:
        raise ValueError("parameter 'models' names no model")
    unknown = [m for m in models if m not in per_class_by_model]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}: choose from {list(per_class_by_model)}")


def model_colour(name: str, names) -> str:
    """The colour of model ``name``: fixed by its position among ``names`` (stable across redraws)."""
    return PALETTE[list(names).index(name) % len(PALETTE)]


def _class_points_trace(df: pd.DataFrame, name: str, colour: str, metric: str, shift: int):
    """One model's classes as hoverable points, so a reader can name any class by pointing at it."""
    import plotly.graph_objects as go

    x, y = df["train_count"].to_numpy(float), df[metric].to_numpy(float)
    return go.Scatter(
        x=x,
        y=y + shift,
        mode="markers",
        name=name,
        legendgroup=name,
        text=df["class_name"],
        customdata=y,
        marker=dict(size=6, opacity=0.55, color=colour),
        hovertemplate="<b>%{text}</b><br>training pairs %{x}<br>"
        + METRIC_LABELS[metric]
        + " %{customdata:.3~g}<extra>"
        + name
        + "</extra>",
    )


def _bin_means_trace(df: pd.DataFrame, metric: str, bins: int, scheme: str, shift: int, first: bool):
    """Binned means with standard errors: the trend the scattered points hide."""
    import plotly.graph_objects as go

    x, y = df["train_count"].to_numpy(float), df[metric].to_numpy(float)
    b = M.binned(y, x, n_bins=bins, scheme=scheme)
    return go.Scatter(
        x=b["centre"],
        y=b["mean"] + shift,
        mode="lines+markers",
        name=f"mean in {len(b)} {scheme} bins",
        legendgroup="bins",
        showlegend=first,
        line=dict(color="black", width=2),
        error_y=dict(type="data", array=b["sem"].fillna(0), thickness=1),
        hovertemplate="bin %{x:.3~g}: mean %{customdata:.3~g}<extra></extra>",
        customdata=b["mean"],
    )


def _unbiased_level_trace(df: pd.DataFrame, metric: str, shift: int, first: bool):
    """The #predictions every class would get from an unbiased model: the reference the bias is read against."""
    import plotly.graph_objects as go

    x, y = df["train_count"].to_numpy(float), df[metric].to_numpy(float)
    level, ends = float(y.mean()), [float(x.min()), float(x.max())]
    return go.Scatter(
        x=ends,
        y=[level + shift] * 2,
        mode="lines+text",
        text=[f"unbiased: {level:.3g} per class", ""],
        textposition="top right",
        textfont=dict(color="grey", size=10),
        line=dict(color="grey", dash="dash"),
        name="unbiased: every class predicted equally often",
        legendgroup="level",
        showlegend=first,
        hoverinfo="skip",
    )


def _highlight_trace(hit: pd.DataFrame, highlight: str, metric: str, shift: int, first: bool):
    """The searched classes ringed and named, labels alternating so neighbours stay legible."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=hit["train_count"],
        y=hit[metric] + shift,
        mode="markers+text",
        name=f"classes matching {highlight!r}",
        legendgroup="hits",
        showlegend=first,
        text=hit["class_name"],
        textposition=_alternate(hit, metric),
        textfont=dict(color=HIGHLIGHT, size=10),
        customdata=hit[metric],
        marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(color=HIGHLIGHT, width=2)),
        hovertemplate="<b>%{text}</b><br>training pairs %{x}<br>%{customdata:.3~g}<extra></extra>",
    )


def _frequency_axes(fig, per_class_by_model: dict, models: list, metric: str, shift: int, preset):
    """Axes and layout shared by all panels: one log-frequency range with room for labels, one y scale."""
    counts = np.concatenate([per_class_by_model[m]["train_count"].to_numpy(float) for m in models])
    span = np.log10(np.maximum(counts, 1))
    fig.update_xaxes(
        type="log",
        title_text="training frequency (pairs per class)",  # room for labels on the right
        range=[span.min() - 0.1, span.max() + 0.35],
    )
    ytitle = f"{METRIC_LABELS[metric]} + 1 (1: never predicted)" if shift else METRIC_LABELS[metric]
    fig.update_yaxes(type="log" if shift else "linear")
    fig.update_yaxes(title_text=ytitle, col=1)
    if not shift:
        fig.update_yaxes(range=[-0.03, 1.03])
    where = f" · preset {preset}" if preset else ""
    fig.update_layout(
        title=f"{METRIC_LABELS[metric]} against training frequency: {' vs '.join(models)}{where}",
        template="plotly_white",
        height=460,
        width=None,
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, traceorder="normal"),
    )


def frequency_figure(
    per_class_by_model: dict[str, pd.DataFrame],
    models,
    metric: str = "accuracy",
    bins: int = 8,
    scheme: str = "log",
    highlight: str | None = None,
    preset: str | None = None,
):
    """Per-class ``metric`` against training frequency for each of ``models`` (one panel each, shared y).

    #predictions go on a log axis as ``#predictions + 1``, so never-predicted classes (the rare
    ones this study is about) sit at 1 instead of vanishing; the hover shows the true count.
    """
    from plotly.subplots import make_subplots

    models = list(dict.fromkeys(m for m in models if m))
    _check(metric, models, per_class_by_model)
    shift = 1 if metric == "predictions" else 0
    fig = make_subplots(
        rows=1, cols=len(models), shared_yaxes=True, horizontal_spacing=0.05, subplot_titles=models
    )
    for j, name in enumerate(models, start=1):
        df = per_class_by_model[name]
        colour = model_colour(name, per_class_by_model)
        fig.add_trace(_class_points_trace(df, name, colour, metric, shift), row=1, col=j)
        if bins:
            fig.add_trace(_bin_means_trace(df, metric, bins, scheme, shift, j == 1), row=1, col=j)
        if metric == "predictions":
            fig.add_trace(_unbiased_level_trace(df, metric, shift, j == 1), row=1, col=j)
        hit = matching_classes(df, highlight)
        if len(hit):
            fig.add_trace(_highlight_trace(hit, highlight, metric, shift, j == 1), row=1, col=j)
    _frequency_axes(fig, per_class_by_model, models, metric, shift, preset)
    return fig


def _alternate(hit: pd.DataFrame, metric: str) -> list[str]:
    """Label positions above and below in turn, in order of the metric, so neighbouring labels do not overlap."""
    rank = hit[metric].rank(method="first").to_numpy().astype(int)
    return ["top center" if r % 2 else "bottom center" for r in rank]


def _accuracy_ticks(lo: float, hi: float) -> dict:
    ticks = [t for t in ACC_TICKS if lo <= t <= hi] or [lo, hi]
    return dict(
        tickmode="array", tickvals=[float(v) for v in logit(ticks)], ticktext=[f"{t:.3g}" for t in ticks]
    )


def _robustness_ranges(baseline: pd.DataFrame, models: pd.DataFrame):
    """Accuracy ranges (lo_x, hi_x, lo_y, hi_y) framing every model, the y range reaching at least y = x."""
    ids = np.r_[baseline["id"], models["id"]].astype(float)
    oods = np.r_[baseline["ood"], models["ood"]].astype(float)
    lo_x, hi_x = max(1e-3, ids.min() * 0.8), min(0.999, ids.max() * 1.1 + 0.02)
    lo_y, hi_y = max(1e-3, oods.min() * 0.8), min(0.999, max(oods.max() * 1.2 + 0.02, hi_x))
    return lo_x, hi_x, lo_y, hi_y


def _baseline_traces(trend, baseline: pd.DataFrame, lo_x: float, hi_x: float) -> list:
    """The reference the other models are judged against: band, fitted line, y = x and the baseline models."""
    import plotly.graph_objects as go

    xs = np.linspace(lo_x, hi_x, 100)
    band_lo, band_hi = trend.band(xs)
    return [
        go.Scatter(
            x=logit(xs),
            y=logit(band_lo),
            mode="lines",
            line=dict(width=0),
            showlegend=False,
            hoverinfo="skip",
        ),
        go.Scatter(
            x=logit(xs),
            y=logit(band_hi),
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor="rgba(128,128,128,0.25)",
            name="95% band of the line",
            hoverinfo="skip",
        ),
        go.Scatter(
            x=logit(xs),
            y=logit(trend.predict(xs)),
            mode="lines",
            line=dict(color="black"),
            name=f"baseline line: logit slope {trend.slope:.2f}",
            hoverinfo="skip",
        ),
        go.Scatter(
            x=logit(xs),
            y=logit(xs),
            mode="lines",
            line=dict(color="grey", dash="dot"),
            name="y = x (no drop)",
            hoverinfo="skip",
        ),
        go.Scatter(
            x=logit(baseline["id"]),
            y=logit(baseline["ood"]),
            mode="markers",
            name="baseline (SL, standard data)",
            marker=dict(symbol="square", color="black", size=8),
            text=baseline["label"],
            customdata=np.c_[baseline["id"], baseline["ood"]],
            hovertemplate="<b>%{text}</b><br>ID %{customdata[0]:.3f}<br>OOD %{customdata[1]:.3f}<extra></extra>",
        ),
    ]


def _group_traces(models: pd.DataFrame) -> list:
    """One trace per group of compared models, hover giving each model's accuracies and ER with its CI."""
    import plotly.graph_objects as go

    traces = []
    for i, (group, sub) in enumerate(models.groupby("group", sort=False)):
        traces.append(
            go.Scatter(
                x=logit(sub["id"]),
                y=logit(sub["ood"]),
                mode="markers",
                name=str(group),
                text=sub["model"],
                marker=dict(
                    size=10, color=PALETTE[(i + 1) % len(PALETTE)], line=dict(color="white", width=1)
                ),
                customdata=np.c_[sub["id"], sub["ood"], sub["er"], sub["lo"], sub["hi"]],
                hovertemplate="<b>%{text}</b><br>ID %{customdata[0]:.3f}<br>OOD %{customdata[1]:.3f}<br>"
                "ER %{customdata[2]:+.3f} [%{customdata[3]:+.3f}, %{customdata[4]:+.3f}]<extra>"
                + str(group)
                + "</extra>",
            )
        )
    return traces


def _robustness_layout(fig, shift, id_name, informative, preset, ranges):
    """Logit axes with accuracy ticks, title and legend; an uninformative shift is greyed and says why."""
    lo_x, hi_x, lo_y, hi_y = ranges
    note = "" if informative else " (not informative: models near chance, ER is noise here)"
    where = f" · preset {preset}" if preset else ""
    fig.update_layout(
        title=f"{id_name} → {shift}: models against the baseline line{note}{where}",
        template="plotly_white",
        height=480,
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, traceorder="normal"),
        xaxis=dict(
            title=f"ID accuracy ({id_name}, logit axis)",
            range=[float(logit(lo_x)), float(logit(hi_x))],
            **_accuracy_ticks(lo_x, hi_x),
        ),
        yaxis=dict(
            title=f"OOD accuracy ({shift}, logit axis)",
            range=[float(logit(lo_y)), float(logit(hi_y))],
            **_accuracy_ticks(lo_y, hi_y),
        ),
    )
    if not informative:
        fig.update_layout(plot_bgcolor="#f2f2f2")


def robustness_figure(
    trend,
    baseline: pd.DataFrame,
    models: pd.DataFrame | None,
    shift: str,
    id_name: str = "photo",
    informative: bool = True,
    preset: str | None = None,
):
    """ID vs OOD accuracy on ``shift`` (logit axes): baseline line + 95% band, baseline models, other models.

    ``baseline``: columns ``label, id, ood`` (fractions); ``models``: columns ``model, group, id, ood,
    er, lo, hi`` (an ER table for this shift with a ``group`` column; one colour per group).
    """
    import plotly.graph_objects as go

    models = (
        models
        if models is not None
        else pd.DataFrame(columns=["model", "group", "id", "ood", "er", "lo", "hi"])
    )
    ranges = _robustness_ranges(baseline, models)
    fig = go.Figure()
    for trace in _baseline_traces(trend, baseline, ranges[0], ranges[1]) + _group_traces(models):
        fig.add_trace(trace)
    _robustness_layout(fig, shift, id_name, informative, preset, ranges)
    return fig
