# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 1 · Where does CLIP's robustness come from?
#
# CLIP's zero-shot models keep more of their accuracy under natural distribution shift
# than ImageNet-trained models with the same in-distribution accuracy: they have positive
# **effective robustness** (ER; Taori et al. 2020), the height of a model above the line
# that standard models follow on logit-transformed ID-vs-OOD axes. This chapter retraces
# four studies of where that comes from, on the concept world:
#
# 1. **Effective robustness** (Taori et al. 2020): a family of SL models on a curated,
#    ImageNet-like source gives the baseline line; where do CLIP models fall, trained on
#    web-like data (which holds a few sketches, renditions and odd poses, as the web does)
#    or on the very same curated images?
# 2. **Data sources and mixtures** (Nguyen et al. 2022): different sources give different
#    robustness; a mixture lands in between.
# 3. **Language vs no language** (Fang et al. 2022): SL on labels mined from the same
#    captions, same images and budget: is it the language or the data?
# 4. **Train–test similarity** (Mayilvahanan et al. 2024): prune the training images most
#    similar to the shifted test sets and retrain: does the robustness survive?
#
# Shifts (renderings of the same concepts, see `studylib/world.py`): **v2** (fresh
# resample, a little more nuisance), **sketch** (grey shading and dark strokes, no colour),
# **rendition** (other palette and texture), **objectnet** (unusual pose and cluttered
# background). An object's look is shape and texture as well as colour, so a sketch keeps
# part of it. Web-like sources render a share `shift_share` (5% by default) of their
# images in one of the three shifted styles and say so in the caption ("drawing: ...");
# the curated source renders photos only.

# %% tags=["parameters"]
preset: str = "quick"            # smoke | quick | full: sizes of world, models and training
seed: int = 0                    # training seed
world_seed: int = 0              # seed of the concept world
n_classes: int = 0               # classes in the world (0: this chapter's preset value)
n_train: int = 0                 # training pairs of the standard source (0: this chapter's preset value)
epochs: int = 0                  # epochs of the full-size runs (0: this chapter's preset value)
n_boot: int = 1000               # bootstrap resamples for bands and ER intervals

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from studylib import plots
from studylib.chapters import ch01
from studylib.chapters.ch01 import (accuracy_table, er_summary, er_table, fit_trends, group_mean_er, lies_between,
                                    mean_er, points, shifts_above_line)
from studylib.session import Session
from studylib.widgets import robustness_explorer

ch = Session(ch01.NAME, preset, sizes=ch01.SIZES,
             overrides=dict(seed=seed, world_seed=world_seed, n_classes=n_classes, n_train=n_train, epochs=epochs),
             extras=dict(n_boot=(n_boot, int)))
SHIFTS = list(ch01.SHIFTS)
P = ch.params
N, E = P["n_train"], P["epochs"]
display(Markdown(f"World: {P['n_classes']} classes, {N} training pairs on the standard source "
                 f"(profile `{P['profile']}`: this chapter is about distribution shift, not imbalance), {E} epochs, "
                 f"{P['test_per_class']} test images per class and domain."))

# %% [markdown]
# ## 1 · Effective robustness: the baseline line and CLIP
#
# The baseline family: SL models on the curated source (photos only, as ImageNet), varied
# in training-set size, epochs and width so that they span a range of accuracies (as the
# ImageNet testbed's standard models do). Each shift gets its own OLS line of logit(OOD)
# on logit(ID) with a bootstrap 95% band over models. Two CLIP models: one on the web-like
# source, one on the baseline's own curated images (the objective alone, as in Fang et al.).

# %%
baseline, REF = ch01.baseline_specs(ch)     # REF: the full-size baseline: CLIP's budget and width, curated images
sl_runs = ch.run_all(baseline, keep_model={REF})
clip_by_seed = {k: ch.run_all(ch01.clip_specs(ch, seed=k)) for k in ch.seeds()}
clip_runs = clip_by_seed[seed]                  # the first seed's models, shown in the figures
acc = accuracy_table({**sl_runs, **clip_runs})
acc.round(3)

# %% [markdown]
# **Which shifts can show robustness?** On a shift where the models are at chance the
# logit line is flat and every model lies "on" it, so its ER is noise. A shift counts as
# *informative* when at least half of the baseline family is above chance there (one-sided
# binomial test, p < 0.01, on its test images) and no baseline model is significantly
# *better* there than on photo (one-sided two-proportion test, p < 0.01). Averages and counts of ER below use the informative shifts only; the
# others are reported separately.

# %%
shift_info = ch01.shift_information(acc, sl_runs, n_test=P["n_classes"] * P["test_per_class"], n_classes=P["n_classes"])
INFORMATIVE = [s for s in SHIFTS if shift_info.loc[s, "informative"]]
display(Markdown("Informative shifts: " + (", ".join(INFORMATIVE) or "none") + "; not informative: "
                 + (", ".join(s for s in SHIFTS if s not in INFORMATIVE) or "none") + "."))
shift_info.round(3)

# %%
trends = fit_trends(acc.loc[list(sl_runs)], SHIFTS, n_boot=n_boot)
er = er_table(trends, clip_runs, n_boot=n_boot)
fig = plots.robustness_panels(
    trends, {s: points(acc.loc[list(sl_runs)], s) for s in SHIFTS},
    {s: points(acc.loc[list(clip_runs)], s).assign(er=er[er["shift"] == s]["er"].to_numpy()) for s in SHIFTS},
    informative=INFORMATIVE)
ch.save(fig, "effective_robustness", "ID vs OOD accuracy on logit axes: SL baseline line with 95% band, CLIP, per shift")
plt.show()
er_summary(er)

# %% [markdown]
# ## 2 · Data sources and their mixtures
#
# Three further web-like sources with their own caption styles and photo variety (`studylib.config.SOURCES`),
# each also holding its 5% of shifted renderings:
# **flickr** (tags and titles, varied amateur photos), **alttext** (templated alt-text,
# ordinary photos) and **encyclopedia** (descriptions, clean centred shots). CLIP is trained
# on each at half and full budget; then on a 50/50 mixture of flickr and encyclopedia at
# the full budget and at double the budget.

# %%
source_specs, group = ch01.source_specs(ch)      # group: run label -> its source
source_runs = ch.run_all(source_specs)
ch01.source_cards(ch)
src_acc = accuracy_table(source_runs)
src_er = er_table(trends, source_runs, n_boot=n_boot)
fig = plots.robustness_panels(
    trends, {s: points(acc.loc[list(sl_runs)], s) for s in SHIFTS},
    {s: points(src_acc, s, group=group.get).assign(er=src_er[src_er["shift"] == s]["er"].to_numpy(),
                                                   budget=lambda d: d["label"].map(ch01.budgets(source_runs)))
     for s in SHIFTS},
    connect="group", informative=INFORMATIVE)
ch.save(fig, "sources_and_mixtures", "CLIP trained on different sources (two budgets each) and a 50/50 mixture, against the SL baseline")
plt.show()
er_summary(src_er)

# %%
source_er = group_mean_er(src_er, group)
mix_between = lies_between(src_er, f"CLIP mix n={N}", [f"CLIP flickr n={N}", f"CLIP encyclopedia n={N}"],
                           shifts=INFORMATIVE)
display(Markdown(
    "Mean ER per source (rows) and shift (columns) is in the table below. The fixed-budget mixture's ER lies "
    "between (within 0.01 of) its two components' at the same budget on the informative shifts "
    + (", ".join(s for s, ok in mix_between.items() if ok) or "no shift")
    + (f"; outside on {', '.join(s for s, ok in mix_between.items() if not ok)}." if not all(mix_between.values()) else ".")))
source_er.round(3)

# %% [markdown]
# ## 3 · Language vs no language on the same images
#
# Fang et al. (2022) train SL on labels derived from the captions of the same images and
# find it about as robust as CLIP: the robustness comes from the data, not from language
# supervision. Here SL is trained on the web-like source's images, the same as CLIP (web),
# with labels mined from their captions by matching class names and synonyms (pairs whose
# caption names no class, or several, are dropped), and with their true labels, at the same
# number of epochs.

# %%
lang_runs = {**ch.run_all(ch01.language_specs(ch)), "CLIP (web)": clip_runs["CLIP (web)"]}
lang_er = er_table(trends, lang_runs, n_boot=n_boot)
fig = plots.robustness_panels(
    trends, {s: points(acc.loc[list(sl_runs)], s) for s in SHIFTS},
    {s: points(accuracy_table(lang_runs), s).assign(er=lang_er[lang_er["shift"] == s]["er"].to_numpy())
     for s in SHIFTS}, informative=INFORMATIVE)
ch.save(fig, "language_vs_labels", "CLIP on captions vs SL on caption-mined labels vs SL on true labels, same images")
plt.show()
er_summary(lang_er)

# %% [markdown]
# ## 4 · Train–test similarity
#
# In the feature space of the full-size SL baseline model, each shifted test image's
# nearest training neighbour gives its train–test similarity. The larger, more varied
# training set is the double-budget mixture of section 2; the smaller one is the curated standard
# source. As Mayilvahanan et al. do, we prune the larger set, most test-like images first,
# until the *whole distribution* of its similarities to the shifted test sets is as close as
# pruning gets to the standard set's (the cut-off with the smallest Kolmogorov–Smirnov
# distance), retrain CLIP on what is left, and compare with CLIP on a random subset of the
# same size.

# %%
study = ch01.similarity_study(ch, sl_runs[REF])
nn_small, nn_big, nn_pruned = study["nn_small"], study["nn_big"], study["nn_pruned"]
keep, rand_keep, info = study["keep"], study["rand_keep"], study["info"]
fig = plots.similarity_histograms({"standard (small)": nn_small, "mixture ×2 (large)": nn_big,
                                   "large, pruned": nn_pruned})
ch.save(fig, "train_test_similarity", "nearest-neighbour similarity of shifted test images to each training set")
plt.show()
display(Markdown(f"Pruning keeps {len(keep)} of {int(study['n_big'])} pairs ({info['kept_fraction']:.0%}); "
                 f"median similarity {np.median(nn_big):.3f} → {info['achieved']:.3f} "
                 f"(target {np.median(nn_small):.3f}); Kolmogorov–Smirnov distance to the target distribution "
                 f"{info['ks_distance_before']:.3f} before pruning, {info['ks_distance']:.3f} after."))

# %%
sim_runs = {"CLIP mixture ×2 (all)": source_runs[f"CLIP mix n={2 * N}"],
            **ch.run_all(ch01.similarity_specs(ch, study))}
sim_er = er_table(trends, sim_runs, n_boot=n_boot)
power = ch01.detectable_difference(sim_er, "CLIP mixture ×2, similarity-pruned", "CLIP mixture ×2, random subset",
                                   INFORMATIVE)
display(Markdown(f"**Power.** With these test sets, a difference in ER between the pruned and the random subset "
                 f"of at most about {power:.3f} per informative shift would be detected 80% of the time (a "
                 "conservative bound: it treats the two models' intervals as independent); differences well below "
                 "it would usually go unseen."))
er_summary(sim_er)

# %% [markdown]
# ## Explore
#
# Every model of this chapter against the baseline line: pick a shift (the ones where ER is
# noise are marked and greyed) and a group (the CLIP pair of section 1, a data source, the
# language comparison, the similarity study); hover a point for its accuracies and its ER
# with its 95% interval.

# %%
groups = ch01.explorer_groups(clip_runs, source_runs, group, lang_runs, sim_runs)
explore_er = ch01.explorer_table([er, src_er, lang_er, sim_er], groups)
robustness_explorer(trends, acc.loc[list(sl_runs)], explore_er, informative=INFORMATIVE, preset=preset)

# %% [markdown]
# ## What this chapter finds
#
# The next cell compares the numbers above; nothing in it is written by hand.

# %%
I = INFORMATIVE
web = ch01.er_sides(trends, clip_by_seed, "CLIP (web)", I, n_boot=n_boot)     # seed-level intervals where several
curated = ch01.er_sides(trends, clip_by_seed, "CLIP (curated)", I, n_boot=n_boot)
clip_pos, clip_neg = web["above"], web["below"]
seed_words = "" if web["seeds"] == 1 else f" and {web['seeds']} training seeds (interval over seeds)"
lines = [
    f"* **Informative shifts** (baseline family above chance, and not above photo): {', '.join(I) or 'none'} of "
    f"{len(SHIFTS)}; the averages below use these only."
    + "".join(f" On {s} the family reaches {shift_info.loc[s, 'baseline_min']:.3f}–{shift_info.loc[s, 'baseline_max']:.3f} "
              f"(chance {shift_info.loc[s, 'chance']:.3f}, photo {shift_info.loc[s, 'photo_min']:.3f}–{shift_info.loc[s, 'photo_max']:.3f})."
              for s in SHIFTS),
    f"* **ER of CLIP (web)**, mean over the informative shifts{seed_words} {web['mean']:+.3f}; its 95% interval "
    f"lies above the SL line on {', '.join(clip_pos) or 'no shift'} and below it on {', '.join(clip_neg) or 'no shift'}. "
    f"CLIP trained on web-like data has positive effective robustness: "
    f"**{ch01.er_verdict(clip_pos, clip_neg)}**.",
    "* **Sources**: mean ER per source over the informative shifts " + ", ".join(
        f"{src.removeprefix('CLIP ')} {source_er.loc[src, I].mean():+.3f}" for src in source_er.index) + ".",
    f"* **CLIP on the curated images** (the objective alone): mean ER{seed_words} {curated['mean']:+.3f}; above the "
    f"line on {', '.join(curated['above']) or 'no shift'}, below on {', '.join(curated['below']) or 'no shift'}.",
    f"* **Language vs labels** (web images): mean ER of SL on caption-mined labels "
    f"{mean_er(lang_er, 'SL, caption-mined labels (web)', I):+.3f}, SL on true labels "
    f"{mean_er(lang_er, 'SL, true labels (web)', I):+.3f}, CLIP {mean_er(lang_er, 'CLIP (web)', I):+.3f}.",
    f"* **Similarity pruning**: mean ER of CLIP on the full large set {mean_er(sim_er, 'CLIP mixture ×2 (all)', I):+.3f}, "
    f"similarity-pruned {mean_er(sim_er, 'CLIP mixture ×2, similarity-pruned', I):+.3f}, random subset of the same "
    f"size {mean_er(sim_er, 'CLIP mixture ×2, random subset', I):+.3f} (a difference below about {power:.3f} "
    "may be beyond this design's power).",
    f"* **Seeds**: {len(clip_by_seed)} training seed(s) of the CLIP models at preset `{preset}`"
    + (": the ER intervals resample test images and baseline lines, not training runs; `full` trains three."
       if len(clip_by_seed) == 1 else "; the baseline family and the other sections use the first seed."),
]
if len(clip_by_seed) > 1:
    for model, over in ch01.clip_er_over_seeds(trends, clip_by_seed, I, n_boot=n_boot).items():
        lines.append(f"* **{model} over seeds**: ER per informative shift, mean [95% t interval over "
                     f"{len(clip_by_seed)} seeds]: " + ", ".join(
                         f"{s} {v['mean']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]" for s, v in over.items()) + ".")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Reading it against the papers** (numbers from the `quick` preset, seed 0; the cell above
# recomputes them on every run — trust it over this paragraph if they disagree).
#
# * **No effective robustness from web-like data.** CLIP trained on the web-like source, which
#   renders 5% of its images as sketches, renditions or odd poses with captions that say so,
#   has *no* positive ER against SL trained on the curated source: its mean ER over the
#   informative shifts was about −0.01, and its interval lay below the line on the
#   rendition- and ObjectNet-like shifts. This is the world's answer at this size, not the
#   paper's: here CLIP is also much weaker in distribution (about 0.06 top-1 against 0.24
#   for the full SL model), trained from scratch on 6k captions, and 5% of 6k pairs is about
#   300 shifted images. The data card `world-quick-01-web` records which knob settings were
#   tried and why; nothing was tuned toward the paper's finding.
# * **The objective alone.** CLIP on the baseline's own curated images lies on the line (mean
#   ER about 0.000, above it only on the sketch-like shift, below it on none): no robustness
#   to speak of from the objective, as Fang et al. (2022) argue.
# * **Language vs labels.** SL on the web images' caption-mined labels and on their true
#   labels lands on the line (mean ER within about 0.01), close to each other, as in Fang et
#   al.; CLIP on the same images is slightly lower.
# * **Sources.** The mean ER of every source was within about 0.01 of the line and the
#   fixed-budget mixture lay between its two components on every informative shift; the
#   differences are of the size of the intervals, so Nguyen et al.'s ordering of sources is
#   not established at this scale.
# * **Train–test similarity.** Pruning the large mixture until its similarities to the
#   shifted test sets are as close as pruning gets to the standard set's distribution
#   (Kolmogorov–Smirnov distance about 0.34 → 0.16) left its ER where a random subset of
#   the same size left it; this design detects differences of at most about 0.025 with 80%
#   power, and there was no robustness to explain away in the first place, so it neither
#   supports nor contradicts Mayilvahanan et al. (2024).
# * **Where the world is still coarse.** An object's look is 70% shape and texture, so every
#   shift is informative by the rule above, the sketch-like one least (the baseline family
#   reaches about 3%, chance 1%). Models reach at most about 24% of the photo test set at
#   this preset.
