# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
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
# 1. **Effective robustness** (Taori et al. 2020): a family of SL models on one "standard"
#    source gives the baseline line; where do CLIP models fall?
# 2. **Data sources and mixtures** (Nguyen et al. 2022): different sources give different
#    robustness; a mixture lands in between.
# 3. **Language vs no language** (Fang et al. 2022): SL on labels mined from the same
#    captions, same images and budget: is it the language or the data?
# 4. **Train–test similarity** (Mayilvahanan et al. 2024): prune the training images most
#    similar to the shifted test sets and retrain: does the robustness survive?
#
# Shifts (renderings of the same concepts, see `studylib/world.py`): **v2** (fresh
# resample, a little more nuisance), **sketch** (grey shading and dark strokes, no colour), **rendition** (other palette
# and texture), **objectnet** (unusual pose and cluttered background).

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
# The baseline family: SL models on the standard ("web") source, varied in training-set
# size, epochs and width so that they span a range of accuracies (as the ImageNet
# testbed's standard models do). Each shift gets its own OLS line of logit(OOD) on
# logit(ID) with a bootstrap 95% band over models.

# %%
baseline, REF = ch01.baseline_specs(ch)     # REF: the full-size baseline, same data, budget and width as CLIP
sl_runs = ch.run_all(baseline, keep_model={REF})
clip_runs = {"CLIP (web)": ch.run_spec(ch01.clip_spec(ch))}
acc = accuracy_table({**sl_runs, **clip_runs})
acc.round(3)

# %%
trends = fit_trends(acc.loc[list(sl_runs)], SHIFTS, n_boot=n_boot)
er = er_table(trends, clip_runs, n_boot=n_boot)
fig = plots.robustness_panels(
    trends, {s: points(acc.loc[list(sl_runs)], s) for s in SHIFTS},
    {s: points(acc.loc[list(clip_runs)], s).assign(er=er[er["shift"] == s]["er"].to_numpy()) for s in SHIFTS})
ch.save(fig, "effective_robustness", "ID vs OOD accuracy on logit axes: SL baseline line with 95% band, CLIP, per shift")
plt.show()
er_summary(er)

# %% [markdown]
# ## 2 · Data sources and their mixtures
#
# Three further sources with their own caption styles and photo variety (`studylib.world.SOURCES`):
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
    {s: points(src_acc, s, group=group.get).assign(er=src_er[src_er["shift"] == s]["er"].to_numpy()) for s in SHIFTS},
    connect="group")
ch.save(fig, "sources_and_mixtures", "CLIP trained on different sources (two budgets each) and a 50/50 mixture, against the SL baseline")
plt.show()
er_summary(src_er)

# %%
source_er = group_mean_er(src_er, group)
mix_between = lies_between(src_er, f"CLIP mix n={N}", [f"CLIP flickr n={N}", f"CLIP encyclopedia n={N}"])
display(Markdown(
    "Mean ER per source (rows) and shift (columns) is in the table below. The fixed-budget mixture's ER lies "
    "between (within 0.01 of) its two components' at the same budget on "
    + (", ".join(s for s, ok in mix_between.items() if ok) or "no shift")
    + (f"; outside on {', '.join(s for s, ok in mix_between.items() if not ok)}." if not all(mix_between.values()) else ".")))
source_er.round(3)

# %% [markdown]
# ## 3 · Language vs no language on the same images
#
# Fang et al. (2022) train SL on labels derived from the captions of the same images and
# find it about as robust as CLIP: the robustness comes from the data, not from language
# supervision. Here SL is trained on the standard source's images with labels mined from
# their captions by matching class names and synonyms (pairs whose caption names no class,
# or several, are dropped), at the same number of epochs.

# %%
lang_runs = {"SL, caption-mined labels": ch.run_spec(ch01.caption_label_spec(ch)),
             "SL, true labels": sl_runs[REF], "CLIP (web)": clip_runs["CLIP (web)"]}
lang_er = er_table(trends, lang_runs, n_boot=n_boot)
fig = plots.robustness_panels(
    trends, {s: points(acc.loc[list(sl_runs)], s) for s in SHIFTS},
    {s: points(accuracy_table(lang_runs), s).assign(er=lang_er[lang_er["shift"] == s]["er"].to_numpy())
     for s in SHIFTS})
ch.save(fig, "language_vs_labels", "CLIP on captions vs SL on caption-mined labels vs SL on true labels, same images")
plt.show()
er_summary(lang_er)

# %% [markdown]
# ## 4 · Train–test similarity
#
# In the feature space of the full-size SL baseline model, each shifted test image's
# nearest training neighbour gives its train–test similarity. The larger, more varied
# training set is the double-budget mixture of section 2; the smaller one is the standard
# source. We prune the larger set, most test-like images first, until its median
# similarity to the shifted test sets is no higher than the standard set's, retrain CLIP on
# what is left, and compare with CLIP on a random subset of the same size.

# %%
study = ch01.similarity_study(ch, sl_runs[REF])
nn_small, nn_big, nn_pruned = study["nn_small"], study["nn_big"], study["nn_pruned"]
keep, rand_keep, info = study["keep"], study["rand_keep"], study["info"]
fig, ax = plt.subplots(figsize=(5.5, 3.4))
for vals, name in ((nn_small, "standard (small)"), (nn_big, "mixture ×2 (large)"), (nn_pruned, "large, pruned")):
    ax.hist(vals, bins=40, histtype="step", lw=1.5, label=f"{name}: median {np.median(vals):.3f}")
ax.set_xlabel("cosine similarity of each shifted test image to its nearest training image")
ax.set_ylabel("test images")
ax.legend(fontsize=8, frameon=False)
ch.save(fig, "train_test_similarity", "nearest-neighbour similarity of shifted test images to each training set")
plt.show()
display(Markdown(f"Pruning keeps {len(keep)} of {int(study['n_big'])} pairs ({info['kept_fraction']:.0%}); "
                 f"median similarity {np.median(nn_big):.3f} → {info['achieved']:.3f} "
                 f"(target {np.median(nn_small):.3f})."))

# %%
sim_runs = {"CLIP mixture ×2 (all)": source_runs[f"CLIP mix n={2 * N}"],
            **ch.run_all(ch01.similarity_specs(ch, study))}
sim_er = er_table(trends, sim_runs, n_boot=n_boot)
er_summary(sim_er)

# %% [markdown]
# ## What this chapter finds
#
# The next cell compares the numbers above; nothing in it is written by hand.

# %%
clip_pos = shifts_above_line(er, "CLIP (web)")
lines = [
    f"* **ER of CLIP (web)**, mean over shifts {mean_er(er, 'CLIP (web)'):+.3f}; its 95% interval lies above "
    f"the SL line on {', '.join(clip_pos) if clip_pos else 'no shift'} (of {len(SHIFTS)}).",
    "* **Sources**: mean ER per source " + ", ".join(
        f"{src.removeprefix('CLIP ')} {source_er.loc[src].mean():+.3f}" for src in source_er.index) + ".",
    f"* **Language vs labels**: mean ER of SL on caption-mined labels {mean_er(lang_er, 'SL, caption-mined labels'):+.3f}, "
    f"SL on true labels {mean_er(lang_er, 'SL, true labels'):+.3f}, CLIP {mean_er(lang_er, 'CLIP (web)'):+.3f}.",
    f"* **Similarity pruning**: mean ER of CLIP on the full large set {mean_er(sim_er, 'CLIP mixture ×2 (all)'):+.3f}, "
    f"similarity-pruned {mean_er(sim_er, 'CLIP mixture ×2, similarity-pruned'):+.3f}, random subset of the same "
    f"size {mean_er(sim_er, 'CLIP mixture ×2, random subset'):+.3f}.",
]
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Reading it against the papers** (numbers from the `quick` preset, seed 0; the cell above
# recomputes them on every run — trust it over this paragraph if they disagree).
#
# * **Effective robustness is not reproduced.** CLIP trained here has *no* positive ER: its
#   mean ER over shifts was about −0.01, and on the ObjectNet-like shift its whole interval
#   lay below the SL line (about −0.06). This is not a contradiction of Taori et al.: the
#   CLIP models in their testbed were pre-trained on 400M web pairs from a far wider
#   distribution than ImageNet, whereas this CLIP sees exactly the images of the standard
#   source. The world therefore isolates the objective, and the objective alone brings no
#   robustness — which is Fang et al.'s conclusion.
# * **Language vs labels.** Consistent with Fang et al. (2022): SL on caption-mined labels
#   lands where SL on true labels and CLIP on the same images land (mean ER all within
#   about ±0.02 of each other and of the line).
# * **Sources.** Consistent in direction with Nguyen et al. (2022): the source with the most
#   varied photos (flickr) gave the highest ER (about 0 on average, and the least negative
#   on ObjectNet-like), the clean encyclopedia source and templated alt-text lower ones,
#   and the fixed-budget mixture landed between its two components (at the same budget) on
#   three of the four shifts (outside, slightly, on V2-like).
#   Doubling the mixture's budget did not raise its ER. The differences are of the same
#   size as the intervals, so this is suggestive, not established, at this scale.
# * **Train–test similarity.** Pruning the large mixture to the standard set's similarity to
#   the shifted test sets changed its ER by no more than a random subset of the same size
#   did: consistent with Mayilvahanan et al. (2024), although here there was little
#   robustness to explain away in the first place.
# * **Where the world is too coarse.** The sketch-like shift removes colour, which carries
#   most of the world's class information, so every model is near chance there (slope of
#   the line about 0.15, a flat band): that panel carries no information. The
#   rendition-like shift is also hard (5% at best). V2-like and ObjectNet-like are the
#   informative shifts. Models reach at most about 45% in-distribution accuracy at this
#   preset; `full` trains larger worlds for longer.
