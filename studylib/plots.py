"""Pure figure builders: data in, matplotlib/plotly figure out, no side effects.

Notebooks and widgets call these; tests call them directly. Saving is
studylib.figures' job.

Long because every matplotlib figure of the study, each a pure function with private drawing
helpers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from studylib import metrics as M
from studylib.figure_layout import figure_legend, finish, label_line, label_points

METRIC_LABELS = {"accuracy": "per-class accuracy", "predictions": "#predictions per class"}
PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")


def _check_metric(metric):
    if metric not in METRIC_LABELS:
        raise ValueError(f"unknown metric {metric!r}: use {', '.join(METRIC_LABELS)}")


def matching_classes(per_class: pd.DataFrame, query: str | None) -> pd.DataFrame:
    """Rows whose class name contains ``query`` (case-insensitive); none for an empty query."""
    if not query or not query.strip():
        return per_class.iloc[0:0]
    return per_class[per_class["class_name"].str.lower().str.contains(query.strip().lower(), regex=False)]


def frequency_scatter(
    per_class: pd.DataFrame,
    metric: str = "accuracy",
    bins: int = 8,
    highlight: str | None = None,
    title: str | None = None,
    ax=None,
    color: str = PALETTE[0],
    scheme: str = "log",
):
    """Per-class ``metric`` against training frequency (log x), with binned means.

    ``bins=0`` draws the points only; ``highlight`` marks and names the classes
    whose name contains it. Returns the Figure.
    """
    _check_metric(metric)
    alone = ax is None
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.6))
    x, y = per_class["train_count"].to_numpy(float), per_class[metric].to_numpy(float)
    ax.scatter(x, y, s=9, alpha=0.35, color=color, linewidths=0)
    if metric == "predictions":
        ax.axhline(
            y.mean(), color="grey", ls="--", lw=1, label="unbiased: every class predicted equally often"
        )
        label_line(ax, y.mean(), f"unbiased: {y.mean():.3g} per class")
    if bins:
        b = M.binned(y, x, n_bins=bins, scheme=scheme)
        ax.errorbar(
            b["centre"],
            b["mean"],
            yerr=b["sem"].fillna(0),
            color="black",
            lw=1.5,
            marker="o",
            ms=3,
            capsize=2,
            label=f"mean ± s.e. in {len(b)} {scheme} bins of frequency",
        )
    hit = matching_classes(per_class, highlight).head(8)
    if len(hit):
        ax.scatter(
            hit["train_count"],
            hit[metric],
            s=40,
            facecolors="none",
            edgecolors="crimson",
            linewidths=1.5,
            label=f"classes matching {highlight.strip()!r}",
        )
        label_points(ax, hit["train_count"], hit[metric], hit["class_name"], color="crimson")
    ax.set_xscale("log")
    if metric == "predictions" and (y > 0).all():
        ax.set_yscale("log")
    elif metric == "predictions":
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(bottom=-0.3)  # no negative tick: #predictions is never below 0
    ax.set_xlabel("training frequency (pairs per class)")
    ax.set_ylabel(METRIC_LABELS[metric])
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    if alone:
        figure_legend(fig, ncol=1)
        finish(fig)
    return fig


def frequency_panels(
    per_class_by_model: dict[str, pd.DataFrame],
    metric: str = "accuracy",
    bins: int = 8,
    highlight: str | None = None,
    correlations: dict[str, dict] | None = None,
):
    """One :func:`frequency_scatter` panel per model, side by side, shared y axis."""
    n = len(per_class_by_model)
    if n == 0:
        raise ValueError("no models to plot")
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), sharey=True, squeeze=False)
    for i, (ax, (name, df)) in enumerate(zip(axes[0], per_class_by_model.items())):
        title = name
        if correlations and name in correlations:
            c = correlations[name]
            title += f"\nSpearman {c['r']:.2f} [{c['lo']:.2f}, {c['hi']:.2f}]"
        frequency_scatter(df, metric, bins, highlight, title=title, ax=ax, color=PALETTE[i % len(PALETTE)])
        if i:
            ax.set_ylabel("")
    figure_legend(fig, ncol=3)
    return finish(fig)


def correlation_forest(table: pd.DataFrame, title: str = "Correlation with training frequency"):
    """Point estimates and 95% CIs: rows = models, one colour per measure.

    ``table`` columns: ``model, measure, r, lo, hi``.
    """
    measures = list(dict.fromkeys(table["measure"]))
    models = list(dict.fromkeys(table["model"]))
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.55 * len(models) * len(measures)))
    for j, meas in enumerate(measures):
        sub = table[table["measure"] == meas].set_index("model").reindex(models)
        ypos = np.arange(len(models)) * (len(measures) + 1) + j
        ax.errorbar(
            sub["r"],
            ypos,
            xerr=[sub["r"] - sub["lo"], sub["hi"] - sub["r"]],
            fmt="o",
            color=PALETTE[j],
            capsize=3,
            label=meas,
        )
    ax.set_yticks(np.arange(len(models)) * (len(measures) + 1) + (len(measures) - 1) / 2)
    ax.set_yticklabels(models)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    label_line(ax, 0, "0: no correlation", axis="x")
    ax.set_xlabel("Spearman correlation with training frequency (95% bootstrap CI)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25, axis="x")
    figure_legend(fig, title="measure")
    return finish(fig)


def frequency_profile(counts, names=None, title: str = "Training frequency per class", ax=None):
    """Class counts sorted high to low on a log axis (the long tail at a glance)."""
    counts = np.asarray(counts, float)
    alone = ax is None
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.2))
    order = np.argsort(-counts, kind="stable")
    ax.plot(np.arange(1, len(counts) + 1), counts[order], color=PALETTE[0])
    ax.set_yscale("log")
    ax.set_xlabel("class rank")
    ax.set_ylabel("training pairs")
    ax.set_title(title, fontsize=10)
    if names is not None:
        ranks = (0, len(counts) // 2, len(counts) - 1)
        label_points(
            ax,
            [r + 1 for r in ranks],
            [counts[order[r]] for r in ranks],
            [str(names[order[r]]) for r in ranks],
        )
    ax.grid(alpha=0.25)
    return finish(fig) if alone else fig


def _logit_axis(ax, which: str, lo: float, hi: float):
    from matplotlib.ticker import FixedLocator, FuncFormatter

    from studylib.robustness import logit

    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98) if lo <= t <= hi]
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(FixedLocator(logit(np.array(ticks))))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{1 / (1 + np.exp(-v)):.2g}"))


def _robustness_limits(baseline: pd.DataFrame, others: pd.DataFrame | None):
    """Accuracy ranges (lo_x, hi_x, lo_y, hi_y) that frame every model of a panel, so none sits on an edge."""
    allid = np.r_[baseline["id"], [] if others is None else others["id"]]
    allood = np.r_[baseline["ood"], [] if others is None else others["ood"]]
    lo_x, hi_x = max(1e-3, allid.min() * 0.8), min(0.999, allid.max() * 1.1 + 0.02)
    lo_y, hi_y = max(1e-3, allood.min() * 0.8), min(0.999, allood.max() * 1.2 + 0.02)
    return lo_x, hi_x, lo_y, hi_y


def _draw_baseline_layer(ax, trend, baseline: pd.DataFrame, lo_x: float, hi_x: float):
    """The reference every other model is judged against: band, fitted line, y = x and the baseline models."""
    from studylib.robustness import logit

    xs = np.linspace(lo_x, hi_x, 100)
    band_lo, band_hi = trend.band(xs)
    ax.fill_between(
        logit(xs),
        logit(band_lo),
        logit(band_hi),
        color="grey",
        alpha=0.25,
        lw=0,
        label="95% band of the baseline line",
    )
    ax.plot(
        logit(xs),
        logit(trend.predict(xs)),
        color="black",
        lw=1.2,
        label="baseline line (logit fit; slope in each panel's title)",
    )
    ax.plot(logit(xs), logit(xs), color="grey", ls=":", lw=1, label="y = x (no accuracy drop)")
    ax.scatter(
        logit(baseline["id"]),
        logit(baseline["ood"]),
        s=22,
        color="black",
        marker="s",
        label="baseline (SL, standard data)",
        zorder=3,
    )


def _connect_group(ax, sub: pd.DataFrame, colour: str, fade: float):
    """Joins one group's points so a reader sees its trajectory: arrows up the budgets, else a plain line."""
    from studylib.robustness import logit

    px, py = logit(sub["id"].to_numpy()), logit(sub["ood"].to_numpy())
    if "budget" in sub:  # an arrow from each budget to the next larger one
        for k in range(len(sub) - 1):
            ax.annotate(
                "",
                xy=(px[k + 1], py[k + 1]),
                xytext=(px[k], py[k]),
                zorder=3,
                arrowprops=dict(
                    arrowstyle="-|>", color=colour, lw=1, alpha=fade, shrinkA=3, shrinkB=4, mutation_scale=9
                ),
            )
    else:
        ax.plot(px, py, color=colour, lw=1, alpha=fade)


def _draw_other_models(ax, others: pd.DataFrame, connect: str | None, fade: float):
    """The models compared with the baseline, one colour per group, with their connections and mean-ER notes."""
    from studylib.robustness import logit

    groups = others["group"] if "group" in others else others["label"]
    for i, g in enumerate(dict.fromkeys(groups)):
        colour = PALETTE[(i + 1) % len(PALETTE)]
        sub = others[groups == g].sort_values("budget" if "budget" in others else "id")
        ax.scatter(
            logit(sub["id"]),
            logit(sub["ood"]),
            s=36,
            color=colour,
            label=str(g),
            zorder=4,
            edgecolors="white",
            linewidths=0.5,
            alpha=fade,
        )
        if connect and len(sub) > 1:
            _connect_group(ax, sub, colour, fade)
        if "er" in sub:
            ax.text(
                0.03,
                0.97 - 0.065 * i,
                f"{g}: ER {round(sub['er'].mean(), 3) + 0.0:+.3f}",
                transform=ax.transAxes,
                fontsize=8,
                color=colour,
                va="top",
                fontweight="bold",
            )
    if connect and "budget" in others:
        ax.plot(
            [],
            [],
            color="grey",
            marker=r"$\rightarrow$",
            ls="-",
            lw=1,
            ms=9,
            label="arrow: from the smaller to the larger budget",
        )


def _frame_robustness_axes(ax, trend, shift, id_name, informative, limits):
    """Logit-axis limits, ticks, labels and title; an uninformative panel is greyed so no one reads its ER."""
    from studylib.robustness import logit

    lo_x, hi_x, lo_y, hi_y = limits
    ax.set_xlim(logit(lo_x), logit(hi_x))
    ax.set_ylim(logit(lo_y), logit(max(hi_y, hi_x)))
    _logit_axis(ax, "x", lo_x, hi_x)
    _logit_axis(ax, "y", lo_y, max(hi_y, hi_x))
    ax.set_xlabel(f"ID accuracy ({id_name}, logit axis)")
    ax.set_ylabel(f"OOD accuracy ({shift}, logit axis)")
    title = f"{id_name} → {shift}: baseline slope {trend.slope:.2f}"
    if not informative:
        ax.set_facecolor("#efefef")
        title += "\n(not informative: models near chance)"
    ax.set_title(title, fontsize=10, color="black" if informative else "dimgrey")
    ax.grid(alpha=0.25)


def robustness_panel(
    trend,
    baseline: pd.DataFrame,
    others: pd.DataFrame | None = None,
    shift: str = "OOD",
    ax=None,
    id_name: str = "photo",
    connect: str | None = None,
    informative: bool = True,
):
    """ID vs OOD accuracy on logit axes: baseline models, their fitted line and 95% band, other models.

    ``baseline`` / ``others``: columns ``label, id, ood`` (fractions); ``others`` may carry a
    ``group`` column (one colour per group) and ``er`` (each group's mean ER is written in the
    panel's empty upper-left corner); ``connect`` draws lines between the points of each group,
    in ``budget`` order with an arrowhead towards the larger budget when ``others`` has a
    ``budget`` column, else in ``id`` order. A panel that is not ``informative`` (models near
    chance: ER is noise there) is greyed and says so.
    """
    alone = ax is None
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.6, 4))
    limits = _robustness_limits(baseline, others)
    _draw_baseline_layer(ax, trend, baseline, limits[0], limits[1])
    fade = 1.0 if informative else 0.45
    if others is not None and len(others):
        _draw_other_models(ax, others, connect, fade)
    _frame_robustness_axes(ax, trend, shift, id_name, informative, limits)
    if alone:
        figure_legend(fig, ncol=2)
        finish(fig)
    return fig


def robustness_panels(
    trends: dict, baseline: dict, others: dict | None = None, connect: str | None = None, informative=None
):
    """One :func:`robustness_panel` per shift (dicts keyed by shift name), one legend below them all;
    shifts not in ``informative`` (default: all informative) are greyed."""
    n = len(trends)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 4.1), squeeze=False)
    for ax, shift in zip(axes[0], trends):
        robustness_panel(
            trends[shift],
            baseline[shift],
            None if others is None else others[shift],
            shift,
            ax=ax,
            connect=connect,
            informative=informative is None or shift in informative,
        )
    figure_legend(fig, ncol=4)
    return finish(fig)


def similarity_histograms(
    values: dict, title: str = "Similarity of the shifted test images to each training set"
):
    """One step histogram per training set of each test image's nearest-neighbour cosine similarity; each
    set's median is a dashed line of its colour, its value in the legend (the medians lie too close together
    to be written on their lines)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for k, (name, vals) in enumerate(values.items()):
        vals = np.asarray(vals, float)
        colour = PALETTE[k % len(PALETTE)]
        ax.hist(vals, bins=40, histtype="step", lw=1.5, color=colour, label=name)
        ax.axvline(
            np.median(vals), color=colour, ls="--", lw=1, label=f"{name}: median {np.median(vals):.3f}"
        )
    ax.set_xlabel("cosine similarity of each shifted test image to its nearest training image")
    ax.set_ylabel("test images")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    figure_legend(fig, ncol=2)
    return finish(fig)


def bias_vs_accuracy(
    points: pd.DataFrame,
    trend: dict | None = None,
    measure: str = "#predictions",
    title: str = "Bias against accuracy",
    trend_group: str | None = None,
):
    """Correlation with frequency against top-1, one point per model (the paper's Fig 3).

    ``points`` columns: ``model, group, top1, r, lo, hi`` (``group`` colours the
    points: the reference family, CLIP, ...). ``trend``: ``{"slope", "intercept"}``
    of the reference family's line, drawn dashed with its equation over the
    top-1 range of ``trend_group``'s points (where it was fitted), default all points.
    """
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for k, (group, sub) in enumerate(points.groupby("group", sort=False)):
        ax.errorbar(
            sub["top1"],
            sub["r"],
            yerr=[sub["r"] - sub["lo"], sub["hi"] - sub["r"]],
            fmt="o",
            color=PALETTE[k % len(PALETTE)],
            capsize=3,
            label=group,
        )
        label_points(ax, sub["top1"], sub["r"], sub["model"])
    if trend is not None and np.isfinite(trend["slope"]):
        span = points[points["group"] == trend_group]["top1"] if trend_group is not None else points["top1"]
        xs = np.linspace(span.min(), span.max(), 50)
        ax.plot(
            xs,
            trend["slope"] * xs + trend["intercept"],
            color="grey",
            ls="--",
            lw=1,
            label=f"reference trend: r = {trend['slope']:.2f} × top-1 + {trend['intercept']:.2f}",
        )
    ax.set_xlabel("top-1 accuracy (in-distribution test set)")
    ax.set_ylabel(f"Spearman(frequency, {measure})")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    figure_legend(fig, ncol=2)
    return finish(fig)


def sweep(
    points: pd.DataFrame,
    x: str,
    xlabel: str,
    panels=("r", "top1"),
    title: str = "",
    xticklabels=None,
    logx: bool = False,
):
    """One panel per column of ``panels`` against ``x``, one line per ``group`` (a sweep of one factor).

    ``points`` columns: ``group``, ``x`` and each panel's column; a panel's error bars come from its
    ``<col> lo, <col> hi`` columns when present (for ``r`` also from ``lo, hi``), and a ``chance`` column
    draws the chance level on the ``top1`` panel. ``xticklabels``: names for the integer positions of an
    ordinal ``x`` (e.g. caption levels).
    """
    labels = {
        "r": "Spearman(frequency, #predictions)",
        "top1": "top-1 accuracy (in-distribution)",
        "robustness": "mean accuracy on the shifts",
        "NC1": "NC1 (within-class variation)",
    }
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, col in zip(axes[0], panels):
        for k, (group, sub) in enumerate(points.groupby("group", sort=False)):
            sub = sub.sort_values(x)
            lo, hi = (f"{col} lo", f"{col} hi") if f"{col} lo" in sub else ("lo", "hi")
            err = (
                [sub[col] - sub[lo], sub[hi] - sub[col]] if lo in sub and (col == "r" or lo != "lo") else None
            )
            ax.errorbar(
                sub[x],
                sub[col],
                yerr=err,
                fmt="o-",
                color=PALETTE[k % len(PALETTE)],
                capsize=3,
                lw=1.2,
                label=group,
            )
        if col == "top1" and "chance" in points:
            chance = float(points["chance"].iloc[0])
            ax.axhline(chance, color="grey", lw=0.8, ls="--")
            label_line(ax, chance, f"chance ({chance:.3f})")
        if logx:
            ax.set_xscale("log", base=2)
        if xticklabels is not None:
            ax.set_xticks(range(len(xticklabels)), xticklabels, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(labels.get(col, col))
        ax.grid(alpha=0.25)
    figure_legend(fig)
    if title:
        fig.suptitle(title, fontsize=10)
    return finish(fig)


def tail_accuracy(means: pd.DataFrame, title: str = "Accuracy on the trimmed tail and on the other classes"):
    """Paper Fig 8: one panel per (tail share, one-/zero-shot) trim, bars of tail and other-class accuracy per
    model. ``means`` columns: ``share, mode, model, tail, others`` (e.g. ``ch03a.group_means``)."""
    panels = list(dict.fromkeys(zip(means["share"], means["mode"])))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.9), squeeze=False, sharey=True)
    for ax, (share, mode) in zip(axes[0], panels):
        sub = means[(means["share"] == share) & (means["mode"] == mode)]
        x = np.arange(len(sub))
        ax.bar(x - 0.2, sub["tail"], 0.4, color=PALETTE[1], label="trimmed tail")
        ax.bar(x + 0.2, sub["others"], 0.4, color=PALETTE[0], label="other classes")
        ax.set_xticks(x, sub["model"], rotation=35, ha="right", fontsize=7)
        ax.set_title(f"{mode}, rarest {share:.0%} of classes", fontsize=9)
        ax.grid(axis="y", alpha=0.25)
    axes[0][0].set_ylabel("mean per-class top-1")
    figure_legend(fig)
    fig.suptitle(title, fontsize=10)
    return finish(fig)


def affinity_matrices(
    matrices: dict, n_tail: int, title: str = "Cosine affinity of the classification heads"
):
    """Paper Fig 9a: one heat map per head (classes ordered other classes first, then the ``n_tail`` trimmed
    ones, which a frame marks)."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.9 * len(matrices), 3.8), squeeze=False)
    for ax, (name, m) in zip(axes[0], matrices.items()):
        im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        n = len(m)
        ax.add_patch(
            plt.Rectangle(
                (n - n_tail - 0.5, n - n_tail - 0.5), n_tail, n_tail, fill=False, lw=1.2, ec="black"
            )
        )
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("classes (framed: trimmed tail)", fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="cosine")
    fig.suptitle(title, fontsize=10)
    return fig


def head_tail_distributions(rows: pd.DataFrame, title: str = "Per-class statistics of head and tail classes"):
    """Paper Fig 9b: box plots of per-class accuracy and #predictions, tail and other classes side by side, per
    model. ``rows`` columns: ``model, tail, accuracy, predictions`` (one trim, e.g. from ``ch03a.table``)."""
    models = list(dict.fromkeys(rows["model"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.9), squeeze=False)
    for ax, col in zip(axes[0], ("accuracy", "predictions")):
        for k, (flag, name, colour) in enumerate(
            ((True, "trimmed tail", PALETTE[1]), (False, "others", PALETTE[0]))
        ):
            data = [rows.loc[(rows["model"] == m) & (rows["tail"] == flag), col].to_numpy() for m in models]
            pos = np.arange(len(models)) * 3 + k
            box = ax.boxplot(data, positions=pos, widths=0.8, patch_artist=True, showfliers=False)
            for patch in box["boxes"]:
                patch.set_facecolor(colour)
            ax.plot([], [], color=colour, lw=6, label=name)
        ax.set_xticks(np.arange(len(models)) * 3 + 0.5, models, rotation=35, ha="right", fontsize=7)
        ax.set_ylabel(METRIC_LABELS[col])
        ax.grid(axis="y", alpha=0.25)
    figure_legend(fig)
    fig.suptitle(title, fontsize=10)
    return finish(fig)


def transfer_bars(table: pd.DataFrame, title: str = "DINO features on disjoint downstream tasks"):
    """Paper Fig 10: probe top-1 per downstream task, one bar per pretrained backbone, with chance per task as a
    dashed line. ``table`` columns: ``pretrained, task, top1`` and optionally ``chance`` and ``seed`` (e.g.
    ``ch03b.transfer`` per seed, concatenated): with several seeds a bar is their mean and its whisker their
    range."""
    tasks = list(dict.fromkeys(table["task"]))
    models = list(dict.fromkeys(table["pretrained"]))
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    width = 0.8 / len(models)
    stats = table.groupby(["pretrained", "task"])["top1"].agg(["mean", "min", "max", "count"])
    for k, m in enumerate(models):
        sub = stats.loc[m].reindex(tasks)
        x = np.arange(len(tasks)) + (k - (len(models) - 1) / 2) * width
        spread = (sub["mean"] - sub["min"], sub["max"] - sub["mean"]) if (sub["count"] > 1).any() else None
        ax.bar(x, sub["mean"], width, color=PALETTE[k % len(PALETTE)], label=m, yerr=spread, capsize=2)
    if "chance" in table.columns:
        chance = table.groupby("task")["chance"].first().reindex(tasks)
        for i, c in enumerate(chance):
            ax.plot([i - 0.45, i + 0.45], [c, c], "k--", lw=1, label="chance" if i == 0 else None)
    n_seeds = table["seed"].nunique() if "seed" in table.columns else 1
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set_ylabel(
        "nearest-class-mean probe top-1" + (f"\n(mean of {n_seeds} seeds, range)" if n_seeds > 1 else "")
    )
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.25)
    figure_legend(fig, title="pretrained backbone")
    return finish(fig)


def unique_through_training(
    table: pd.DataFrame, title: str = "Unique prototypes through DINO training (C10)"
):
    """Paper Table 1 through training: the share of the teacher's prototypes that are unique at each counted
    step, one line per pretraining run (mean over seeds, the seeds' range shaded). ``table`` columns:
    ``pretrained, seed, step, share`` (``ch03b.trajectory``)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for k, (name, sub) in enumerate(table.groupby("pretrained", sort=False)):
        by_step = sub.groupby("step")["share"]
        mean, lo, hi = by_step.mean(), by_step.min(), by_step.max()
        colour = PALETTE[k % len(PALETTE)]
        ax.plot(mean.index, mean.values, "o-", lw=1.4, ms=3, color=colour, label=name)
        ax.fill_between(mean.index, lo.values, hi.values, color=colour, alpha=0.15, lw=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("share of prototypes unique")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    figure_legend(fig, title="pretraining run")
    return finish(fig)


def binned_statistics(table: pd.DataFrame, title: str = "Per-class statistics in training-frequency bins"):
    """Paper Fig 11b: per log-frequency bin, mean ± standard deviation of per-class accuracy and #predictions,
    one line per model. ``table`` columns: ``model, measure, centre, mean, std, n`` (``ch04.binned_statistics``)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), squeeze=False)
    for ax, measure in zip(axes[0], ("accuracy", "predictions")):
        for k, (model, sub) in enumerate(table[table["measure"] == measure].groupby("model", sort=False)):
            ax.errorbar(
                sub["centre"],
                sub["mean"],
                yerr=sub["std"],
                fmt="o-",
                capsize=3,
                lw=1.2,
                color=PALETTE[k % len(PALETTE)],
                label=model,
            )
        ax.set_xscale("log")
        ax.set_xlabel("training pairs per class (bin centre)")
        ax.set_ylabel(METRIC_LABELS[measure] + " (mean ± std)")
        ax.grid(alpha=0.25)
    figure_legend(fig)
    fig.suptitle(title, fontsize=10)
    return finish(fig)


def debiasing(scores: pd.DataFrame, title: str = "Logit adjustment: bias and tail accuracy"):
    """Per model and method: Spearman(#predictions, frequency) with its 95% interval, and tail-class accuracy with
    its 95% interval and the chance level. ``scores`` columns: ``model, method, r #pred, r #pred lo, r #pred hi,
    tail, tail lo, tail hi, chance`` (``ch04.scores``)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), squeeze=False)
    methods = list(dict.fromkeys(scores["method"]))
    models = list(dict.fromkeys(scores["model"]))
    width = 0.8 / len(models)
    for k, model in enumerate(models):
        sub = scores[scores["model"] == model].set_index("method").reindex(methods)
        x = np.arange(len(methods)) + (k - (len(models) - 1) / 2) * width
        err = [sub["r #pred"] - sub["r #pred lo"], sub["r #pred hi"] - sub["r #pred"]]
        axes[0][0].errorbar(
            x, sub["r #pred"], yerr=err, fmt="o", capsize=3, color=PALETTE[k % len(PALETTE)], label=model
        )
        tail_err = [sub["tail"] - sub["tail lo"], sub["tail hi"] - sub["tail"]]
        axes[0][1].bar(
            x, sub["tail"], width, yerr=tail_err, capsize=3, color=PALETTE[k % len(PALETTE)], label=model
        )
    for ax, label in zip(
        axes[0], ("Spearman(#predictions, frequency)", "accuracy on the tail third of classes")
    ):
        ax.set_xticks(np.arange(len(methods)), methods, fontsize=8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.25)
    axes[0][0].axhline(0, color="grey", lw=0.8)
    label_line(axes[0][0], 0, "0: no correlation with frequency")
    chance = float(scores["chance"].iloc[0])
    axes[0][1].axhline(chance, color="grey", lw=0.8, ls="--")
    label_line(axes[0][1], chance, f"chance ({chance:.3f})")
    figure_legend(fig)
    fig.suptitle(title + " (bars: 95% intervals over classes)", fontsize=10)
    return finish(fig)


def estimator_pairs(pairs: dict, title: str = "Two frequency estimators, class by class"):
    """Paper Fig 14: one log-log panel per concept set, a point per class (x: first estimate, y: second).
    ``pairs``: name -> (counts a, counts b) aligned class by class (``ch04.aligned_pairs``)."""
    n = len(pairs)
    cols = min(4, max(1, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (name, (a, b)) in zip(axes.ravel(), pairs.items()):
        a, b = np.asarray(a, float) + 1, np.asarray(b, float) + 1
        ax.scatter(a, b, s=6, alpha=0.5, color=PALETTE[0])
        lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, label="y = x: the two estimates agree")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.25)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.supxlabel("paper's count + 1", fontsize=9)
    fig.supylabel("Parashar et al.'s count + 1", fontsize=9)
    fig.suptitle(title, fontsize=10)
    figure_legend(fig)
    return finish(fig)
