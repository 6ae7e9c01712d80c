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

from studylib import claims, plots
from studylib.chapters import ch01, summary
from studylib.chapters.ch01 import accuracy_table, er_summary, er_table, group_mean_er, lies_between, points
from studylib.session import Session
from studylib.widgets import robustness_explorer

session = Session(ch01.NAME, preset, sizes=ch01.SIZES, seeds=ch01.SEEDS,
             overrides=dict(seed=seed, world_seed=world_seed, n_classes=n_classes, n_train=n_train, epochs=epochs),
             extras=dict(n_boot=(n_boot, int)))
SHIFTS = list(ch01.SHIFTS)
P = session.params
N, E = P["n_train"], P["epochs"]
display(Markdown(f"World: {P['n_classes']} classes, {N} training pairs on the standard source "
                 f"(profile `{P['profile']}`: this chapter is about distribution shift, not imbalance), {E} epochs, "
                 f"{P['test_per_class']} test images per class and domain. What `full` adds: "
                 f"{ch01.full_adds(preset)}."))

# %% [markdown]
# ## 1 · Effective robustness: the baseline line and CLIP
#
# The quantity of this chapter is **effective robustness**: a model's OOD top-1 above the
# SL baseline's line at equal ID (photo) top-1, in accuracy units. It is the only chapter
# where accuracy on the shifted test sets is the quantity; in chapters 2–4, *robustness*
# means robustness to the training imbalance.
#
# The baseline family: SL models on the curated source (photos only, as ImageNet), varied
# in training-set size, epochs and width so that they span a range of accuracies (as the
# ImageNet testbed's standard models do). Each shift gets its own OLS line of logit(OOD)
# on logit(ID) with a bootstrap 95% band over models. Two CLIP models: one on the web-like
# source, one on the baseline's own curated images (the objective alone, as in Fang et al.).
# Section 3's two SL models on the web-like images are trained here too: the claims need them.

# %%
baseline, REF = ch01.baseline_specs(session)     # REF: the full-size baseline: CLIP's budget and width, curated images
runs_by_seed = {k: session.run_all(ch01.specs(session, k), keep_model={REF}) for k in session.seeds()}   # all the claims need
runs = runs_by_seed[seed]                       # the first seed's models, shown in the figures
sl_runs = {label: runs[label] for label in baseline}
clip_runs = {label: runs[label] for label in ch01.clip_specs(session)}
acc = accuracy_table({**sl_runs, **clip_runs})
acc.round(3)

# %% [markdown]
# **Which baseline models anchor each line?** A model at chance on a shift has a logit(OOD)
# that is noise around logit(1/K): it pins the line to chance, and any weak model then lies
# "on" it by construction. So each shift's line is fitted only on the baseline models
# **above chance on that shift**: OOD top-1 above 1.5× chance (the study's "learned"
# threshold) and significantly above it (one-sided binomial test, p < 0.01, on the shift's
# test images). A shift left with fewer than 3 such models gets no line, and its part of
# every claim is `untestable`, naming that check. A shift is also checked to be harder,
# never easier: no baseline model significantly *better* there than on photo (one-sided
# two-proportion test, p < 0.01). *Informative* shifts pass both.

# %%
line = ch01.baseline_line(session, runs, n_boot=n_boot)
shift_info, trends, anchors = line["info"], line["trends"], line["anchors"]
INFORMATIVE = [s for s in SHIFTS if shift_info.loc[s, "informative"]]
left_out = {s: [m for m in sl_runs if m not in anchors[s]] for s in SHIFTS}
display(Markdown("Informative shifts: " + (", ".join(INFORMATIVE) or "none") + "; not informative: "
                 + (", ".join(s for s in SHIFTS if s not in INFORMATIVE) or "none") + ". Left out of each line "
                 "(at chance there): " + "; ".join(f"{s}: {', '.join(m) or 'none'}" for s, m in left_out.items())
                 + "."))
shift_info.round(3)

# %%
base_points = {s: points(acc.loc[anchors[s]], s) for s in trends}      # the models each line is fitted on
er = er_table(trends, clip_runs, n_boot=n_boot)
fig = ch01.panels(
    trends, base_points,
    {s: points(acc.loc[list(clip_runs)], s).assign(er=er[er["shift"] == s]["er"].to_numpy()) for s in trends},
    informative=INFORMATIVE)
session.save(fig, "effective_robustness", "ID vs OOD accuracy on logit axes: SL baseline line with 95% band, CLIP, per shift")
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
source_specs, group = ch01.source_specs(session)      # group: run label -> its source
source_runs = session.run_all(source_specs)
ch01.source_cards(session)
src_acc = accuracy_table(source_runs)
src_er = er_table(trends, source_runs, n_boot=n_boot)
fig = ch01.panels(
    trends, base_points,
    {s: points(src_acc, s, group=group.get).assign(er=src_er[src_er["shift"] == s]["er"].to_numpy(),
                                                   budget=lambda d: d["label"].map(ch01.budgets(source_runs)))
     for s in trends},
    connect="group", informative=INFORMATIVE)
session.save(fig, "sources_and_mixtures", "CLIP trained on different sources (two budgets each) and a 50/50 mixture, against the SL baseline")
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
lang_runs = {**{label: runs[label] for label in ch01.language_specs(session)}, "CLIP (web)": clip_runs["CLIP (web)"]}
lang_er = er_table(trends, lang_runs, n_boot=n_boot)
fig = ch01.panels(
    trends, base_points,
    {s: points(accuracy_table(lang_runs), s).assign(er=lang_er[lang_er["shift"] == s]["er"].to_numpy())
     for s in trends}, informative=INFORMATIVE)
session.save(fig, "language_vs_labels", "CLIP on captions vs SL on caption-mined labels vs SL on true labels, same images")
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
study = ch01.similarity_study(session, sl_runs[REF])
nn_small, nn_big, nn_pruned = study["nn_small"], study["nn_big"], study["nn_pruned"]
keep, rand_keep, info = study["keep"], study["rand_keep"], study["info"]
fig = plots.similarity_histograms({"standard (small)": nn_small, "mixture ×2 (large)": nn_big,
                                   "large, pruned": nn_pruned})
session.save(fig, "train_test_similarity", "nearest-neighbour similarity of shifted test images to each training set")
plt.show()
display(Markdown(f"Pruning keeps {len(keep)} of {int(study['n_big'])} pairs ({info['kept_fraction']:.0%}); "
                 f"median similarity {np.median(nn_big):.3f} → {info['achieved']:.3f} "
                 f"(target {np.median(nn_small):.3f}); Kolmogorov–Smirnov distance to the target distribution "
                 f"{info['ks_distance_before']:.3f} before pruning, {info['ks_distance']:.3f} after."))

# %%
sim_runs = {"CLIP mixture ×2 (all)": source_runs[f"CLIP mix n={2 * N}"],
            **session.run_all(ch01.similarity_specs(session, study))}
sim_er = er_table(trends, sim_runs, n_boot=n_boot)
power = ch01.detectable_difference(sim_er, "CLIP mixture ×2, similarity-pruned", "CLIP mixture ×2, random subset",
                                   INFORMATIVE)
display(Markdown("**Power.** No informative shift: this design has no power to state." if np.isnan(power) else
                 f"**Power.** With these test sets, a difference in ER between the pruned and the random subset "
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
(robustness_explorer(trends, acc.loc[list(sl_runs)], explore_er, informative=INFORMATIVE, preset=preset)
 if trends else Markdown("No shift has a baseline line at this preset: nothing to explore."))

# %% [markdown]
# ## What this chapter finds
#
# Three claims, each judged on effective robustness with one part per shift: a claim whose
# shifts disagree is `mixed`, with each shift's verdict beside it. A positive-ER claim is
# reproduced on a shift when the ER's 95% interval lies above 0. The "no ER" claim is judged
# by equivalence: reproduced when the whole interval lies within a margin stated in
# `studylib/chapters/ch01.py` (a quarter of the OOD top-1 above chance that the SL line
# predicts at the model's ID top-1, chosen from the spread of standard models around their
# own line in Taori et al.'s testbed), never from a difference that is merely not
# significant. The cell computes everything; nothing in it is typed.

# %%
rows = ch01.claims(session, runs_by_seed)
display(Markdown(claims.markdown(rows)))

# %% [markdown]
# ### `quick` and `full`
#
# The study publishes this chapter twice: at `quick` (the 15-minute study) and at `full`
# (`make study-full`: ten seeds, larger worlds). Where the two verdicts differ, believe the
# preset whose claims rest on more seeds and more data, which is `full`: its intervals rest on
# more seeds and its models see more of each class, while `quick` is sized to finish in
# minutes. The cell below compares the two from the run registry and names the preset to
# believe for each claim that differs, and why; a claim whose better-powered answer is itself
# undecided stays open. (Where the registry holds only one preset, it says so.)

# %%
display(Markdown(summary.presets_compared(session, ch01, rows)))

# %% [markdown]
# **Reading it against the papers** (numbers from the `quick` preset, seed 0, one training
# seed, in the run after issue 24: `semantic_share` 0.5, fused AdamW; the cell above
# recomputes the verdicts on every run — trust it over this paragraph if they disagree).
#
# * **Effective robustness from web-like data (Taori et al.): `mixed`, no shift reproduces.**
#   CLIP trained on the web-like source, which renders 5% of its images as sketches,
#   renditions or odd poses with captions that say so, lies *below* the SL line on the
#   rendition- and ObjectNet-like shifts (ER −0.021 [−0.039, −0.010] and −0.013 [−0.023,
#   −0.002]: `opposite`), and its interval includes 0 on the V2- and sketch-like shifts
#   (`inconclusive`); it is above the line on none. The world does not show the paper's
#   positive ER at this size. Here CLIP is much weaker in distribution (0.058 top-1 against
#   0.244 for the full SL model), trained from scratch on 6000 captions, 5% of them shifted
#   renderings; on the sketch-like shift its ID top-1 lies below the range of the models
#   that line rests on (0.103 … 0.243), so its ER there is an extrapolation. The data card
#   `world-quick-01-web` records which knob settings were tried and why; nothing was tuned
#   toward the paper's finding.
# * **The objective alone (Fang et al.): `inconclusive`.** CLIP on the baseline's own
#   curated images lies close to the line (ER between −0.012 and +0.007), but "no ER" is an
#   equivalence claim: its intervals (e.g. −0.003 [−0.019, +0.017] on the V2-like shift
#   against a margin of ±0.015) are wider than the margin on every shift, and on the
#   sketch-like shift, where the line predicts barely above chance at its accuracy and its
#   ID top-1 (0.087) is again below the line's models, the margin is only ±0.002. This design
#   neither establishes nor contradicts "no ER from the objective"; more test images or
#   seeds (`full`) would narrow the intervals.
# * **The data (Fang et al.'s own test): `mixed`, reproduced on one shift only.** SL trained
#   with true labels on the web-like images, against SL on the curated images (same
#   objective and labels), lies above the line on the sketch-like shift (+0.016 [+0.004,
#   +0.032]); its intervals include 0 on the other three: V2-like +0.016 [−0.010, +0.054],
#   ObjectNet-like +0.018 [−0.004, +0.035] and rendition-like −0.023 [−0.055, +0.000]. No
#   shift points against "the data gives the robustness", but only the sketch-like one
#   supports it. SL on labels mined from the same captions is above the line only on the
#   sketch-like shift (+0.023 [+0.012, +0.043], section 3's table).
# * **Language vs labels.** On the same web-like images, CLIP's ER point estimates lie below
#   both SL models' on the V2-, sketch- and ObjectNet-like shifts, and between them on the
#   rendition-like one (section 3's table); no paired test compares them, and no claim row
#   rests on it.
# * **Sources.** No source gives an ER interval above 0 on any shift at either budget;
#   several lie below 0 on the rendition- or ObjectNet-like shift (alttext on both, at both
#   budgets). The mean ER per source and shift lies between −0.024 and +0.006, and the
#   fixed-budget mixture lay between its two components on every shift. The differences
#   between sources are mostly of the size of the intervals, so Nguyen et al.'s ordering of
#   sources is not established at this scale.
# * **Train–test similarity.** Pruning the large mixture (keeping 8381 of 12000 pairs, 70%)
#   until its similarities to the shifted test sets are as close as pruning gets to the
#   standard set's distribution (Kolmogorov–Smirnov distance 0.354 → 0.177) left its ER
#   within 0.009 of a random subset of the same size on every shift; this design detects
#   differences of at most about 0.028 with 80% power, and the unpruned mixture had no
#   positive ER to explain away in the first place (no interval above 0), so it neither
#   supports nor contradicts Mayilvahanan et al. (2024).
# * **Where the world is still coarse.** The sketch-like shift's line rests on 3 of the 6
#   baseline models (the other three are at chance there) and reaches at most 3.6% (chance
#   1%); the weakest baseline model is at chance on every test set, photo included, and
#   anchors no line. Models reach at most about 24% of the photo test set at this preset.
