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
I = INFORMATIVE
clip_pos, clip_neg = shifts_above_line(er, "CLIP (web)", I), ch01.shifts_below_line(er, "CLIP (web)", I)
lines = [
    f"* **Informative shifts** (baseline family above chance, and not above photo): {', '.join(I) or 'none'} of "
    f"{len(SHIFTS)}; the averages below use these only."
    + "".join(f" On {s} the family reaches {shift_info.loc[s, 'baseline_min']:.3f}–{shift_info.loc[s, 'baseline_max']:.3f} "
              f"(chance {shift_info.loc[s, 'chance']:.3f}, photo {shift_info.loc[s, 'photo_min']:.3f}–{shift_info.loc[s, 'photo_max']:.3f})."
              for s in SHIFTS),
    f"* **ER of CLIP (web)**, mean over the informative shifts {mean_er(er, 'CLIP (web)', I):+.3f}; its 95% interval "
    f"lies above the SL line on {', '.join(clip_pos) or 'no shift'} and below it on {', '.join(clip_neg) or 'no shift'}. "
    f"CLIP has positive effective robustness: **{'reproduced' if clip_pos and not clip_neg else 'not reproduced'}**.",
    "* **Sources**: mean ER per source over the informative shifts " + ", ".join(
        f"{src.removeprefix('CLIP ')} {source_er.loc[src, I].mean():+.3f}" for src in source_er.index) + ".",
    f"* **Language vs labels**: mean ER of SL on caption-mined labels {mean_er(lang_er, 'SL, caption-mined labels', I):+.3f}, "
    f"SL on true labels {mean_er(lang_er, 'SL, true labels', I):+.3f}, CLIP {mean_er(lang_er, 'CLIP (web)', I):+.3f}.",
    f"* **Similarity pruning**: mean ER of CLIP on the full large set {mean_er(sim_er, 'CLIP mixture ×2 (all)', I):+.3f}, "
    f"similarity-pruned {mean_er(sim_er, 'CLIP mixture ×2, similarity-pruned', I):+.3f}, random subset of the same "
    f"size {mean_er(sim_er, 'CLIP mixture ×2, random subset', I):+.3f}.",
]
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Reading it against the papers** (numbers from the `quick` preset, seed 0; the cell above
# recomputes them on every run — trust it over this paragraph if they disagree).
#
# * **Effective robustness is not reproduced.** CLIP trained here has *no* positive ER: its
#   mean ER over the informative shifts was about −0.02, and on the ObjectNet-like shift its
#   whole interval lay below the SL line. This is a null result against a null: no training
#   source of this world contains any rendering of the shifted kinds, whereas real web data
#   holds some sketches, paintings and odd poses, which is where Fang et al. locate CLIP's
#   robustness. The world therefore isolates the objective, and the objective alone brings
#   no robustness here; it cannot yet test whether the data would.
# * **Language vs labels.** Consistent with Fang et al. (2022): SL on caption-mined labels
#   lands where SL on true labels and CLIP on the same images land (mean ER within about
#   0.01 of each other).
# * **Sources.** The source with the most varied photos (flickr) gave the highest mean ER
#   (about 0), the fixed-budget mixture landed between its two components on some of the
#   informative shifts and outside on others, and doubling the mixture's budget did not
#   raise its ER. The differences are of the size of the intervals: this does not establish
#   Nguyen et al.'s ordering at this scale.
# * **Train–test similarity.** Pruning the large mixture to the standard set's median
#   similarity to the shifted test sets changed its ER by no more than a random subset of
#   the same size did; there was little robustness to explain away in the first place, so
#   this neither supports nor contradicts Mayilvahanan et al. (2024).
# * **Where the world is too coarse.** The sketch-like shift removes colour, which carries
#   most of the world's class information, so the baseline family is at chance there and the
#   rule above leaves it out of every average. The rendition-like shift passes the rule but
#   is hard (about 5% at best, chance 1%). Models reach at most about 45% in-distribution
#   accuracy at this preset.
