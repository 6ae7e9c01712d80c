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
# # Chapter 2c · Data distribution: imbalance, distribution shift and diversity
#
# Wen et al. (their Fig 4) vary the pre-training data at a fixed scale and ask how each
# change moves CLIP's bias and robustness, with a text tower trained from scratch and with
# a pretrained one:
#
# * **C4, imbalance**: more extreme imbalance makes CLIP more biased;
# * **distribution shift**: training on web-like rather than ImageNet-like data harms
#   discriminability on ImageNet-like test images, but can improve robustness when the text
#   head is pretrained;
# * **C5, diversity**: a lower LAIONet similarity threshold (captions less like their class's
#   definition, images less typical) improves robustness.
#
# The pretrained text tower comes from a CLIP trained on a separate, broader *pretraining
# world* (another seed, all 1000 ImageNet concepts, so its captions named every class of this
# world as LAION's name ImageNet's; 200,000 pairs at `quick`, against this world's 12,000;
# `studylib.chapters.pretraining`). Chapter 2d prints how well that CLIP learned its world.
#
# As in the paper, *robustness* means robustness to the imbalance of the training data: how
# little per-class #predictions and per-class accuracy follow training frequency (Spearman
# correlation on the balanced in-distribution test set, each run against its own training
# counts; lower is more robust). *Discriminability* is top-1 on that test set. (Accuracy on
# shifted test sets is effective robustness, chapter 1's question.) Every comparison is a
# paired difference over the same classes within each training seed, with a t interval over the
# seeds; every model compared must have learned (top-1 above 1.5× chance), and every verdict is
# computed.

# %% tags=["parameters"]
preset: str = "quick"            # smoke | quick | full: sizes of world, models and training
seed: int = 0                    # training seed
world_seed: int = 0              # seed of the concept world
render: str = ""                 # pixels | features ("": the chapter's, features at quick and full)
shared_data: str = ""   # a folder of your real data (relative to this notebook); "": the copy that ships

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from studylib import claims, plots
from studylib.chapters import ch02c, evidence, summary
from studylib.chapters.realdata import real_folder
from studylib.session import Session

session = Session(ch02c.NAME, preset, sizes=ch02c.SIZES, seeds=ch02c.SEEDS, overrides=dict(seed=seed, world_seed=world_seed, render=render))
card = session.card("data_distribution")
session.card("data_distribution_diversity", **ch02c.DIVERSITY_WORLD)
display(Markdown(f"{session.params['n_classes']} classes, {session.params['n_train']} pairs, "
                 f"{session.params['epochs']} epochs; data card `{card.name}`; {len(session.seeds())} training seed(s) "
                 f"at `{preset}`."))

# %% [markdown]
# ## The diversity knob
#
# Each caption's MiniLM similarity to "{name} which is {definition}" of its class is LAIONet's
# score. In the world, the more atypical an image, the more of its caption is about the image
# and the less about the class, so a higher threshold keeps more typical images. Every
# threshold's kept set is cut at random to the same number of pairs, so scale does not vary.
# This section trains on descriptive, encyclopedia-like captions that fully describe their
# images (`ch02c.DIVERSITY_WORLD`): on the web-like default, whose caption styles differ far
# more in similarity than any image word, the first run of this chapter found the threshold
# changing within-class diversity by only 1%, which would not test C5. The setting was
# changed after that run, for that reason, and not toward any result.

# %%
diverse_world = session.world(**ch02c.DIVERSITY_WORLD)
keeps = ch02c.diversity_keeps(session, seed)
x = diverse_world.train.images.float().flatten(1) / 255
labels = diverse_world.train.labels
diversity = {q: ch02c.within_class_diversity(x, labels, keep) for q, keep in keeps.items()}
display(Markdown("Within-class image variance of the kept images (pixels or retina features), by threshold quantile: "
                 + ", ".join(f"≥ q{q:g}: {v:.2f}" for q, v in diversity.items()) + "."))

# %%
runs_by_seed = {k: session.run_all(ch02c.specs(session, seed=k)) for k in session.seeds()}
runs = runs_by_seed[seed]
profiles = real_folder(shared_data, "frequencies")  # yours, else the copy that ships
if preset == "full" and profiles is not None:
    runs.update(session.run_all(ch02c.laionet_specs(session, profiles, seed=seed)))
elif preset == "full":
    display(Markdown("*The packaged LAIONet profiles are missing (a broken install?): their runs are skipped.*"))
table = ch02c.overview(runs)
table.round(3)

# %% [markdown]
# ## Robustness to imbalance of every variant
#
# Spearman correlation of per-class #predictions (first figure) and per-class accuracy (second) with
# each run's own training counts, against top-1 on photos: lower is more robust to imbalance.

# %%
groups = {k: k.split(", ")[-1] + " text tower" for k in runs}
for measure, name in (("#predictions", "bias"), ("accuracy", "accuracy_bias")):
    title = f"Data variants: Spearman({measure}, frequency) against top-1 ({preset})"
    fig = plots.bias_vs_accuracy(evidence.bias_points(runs, groups, measure), measure=measure, title=title)
    session.save(fig, f"data_distribution_{name}", "CLIP on data variants (imbalance, source, similarity "
            f"threshold): Spearman of per-class {measure} with training frequency against top-1")
    plt.show()

# %% [markdown]
# ## What the numbers say

# %%
rows = ch02c.claims(session, runs_by_seed)
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
display(Markdown(summary.presets_compared(session, ch02c, rows)))

# %%
if preset != "full":
    display(Markdown(f"Points `full` adds: {ch02c.full_adds(preset)}."))

# %% [markdown]
# **Reading it.** The verdicts above are computed; this paragraph says what was seen in the
# `quick` run, five training seeds (300 classes, 12,000 pairs, 6 epochs, 40 test images per class,
# the features world; the table and the figures show seed 0, the intervals are t intervals over
# the five seeds), and what each comparison can show. Trust the cells over it if a rerun
# disagrees.
#
# * *How much the models learned.* With the scratch text tower CLIP reached top-1 0.106 at
#   Zipf α = 1, 0.138 on the curated source, 0.034 at Zipf α = 2, and 0.019 and 0.035 on the
#   half-size similarity variants (seed 0; chance is 0.003). Initialised from the
#   pretraining-world CLIP's tower it reached 0.434, 0.435 and 0.176 on the variants trained
#   with both. No comparison was untestable, so every model compared passed the learning
#   check, but the scratch-tower models, the similarity variants above all, learned little.
# * *Imbalance (C4): mixed, and no part reproduces the paper.* At Zipf α = 2 top-1 fell
#   (0.106 → 0.034 with the scratch tower, 0.434 → 0.176 with the pretrained one, seed 0), and
#   the correlations with frequency fell rather than rose: with the scratch tower by −0.202
#   for #predictions (interval −0.286 to −0.117) and −0.162 for accuracy (−0.233 to −0.091),
#   with the pretrained tower by −0.030 for accuracy (−0.049 to −0.011), all three opposite;
#   its #predictions correlation moved by +0.016 (−0.009 to +0.042), inconclusive. Each
#   correlation is taken against the run's own training counts, and the α = 2 runs were far
#   less accurate: this chapter has no accuracy-matched reference for CLIP, so it cannot tell
#   "less biased" from "less accurate" here.
# * *Distribution shift.* Discriminability, inconclusive: the web-like source's top-1 on
#   curated-like photos was below the curated source's by 0.015 with the scratch tower
#   (−0.033 to +0.002) and by 0.010 with the pretrained one (−0.022 to +0.001), the paper's
#   direction, but both intervals reach zero. Robustness with the pretrained tower, opposite:
#   trained on web-like data, CLIP followed frequency more, not less, by +0.164 for
#   #predictions (+0.143 to +0.186) and +0.093 for accuracy (+0.074 to +0.111); at seed 0,
#   0.362 against 0.204 and 0.461 against 0.374, at nearly the same top-1 (0.434 against
#   0.435; −0.010 over the seeds, above): unlike the other comparisons of this chapter, this
#   one does not come with a large gap in accuracy. The two sources differ in nuisance
#   strength (lower for the curated one, `studylib.config.SOURCES`) and in the web-like
#   source's shifted renderings (597 of 12,000 training images, the data card); these runs do
#   not say which of the two raised the correlations.
# * *Diversity (C5): inconclusive.* The threshold did change what the model saw: the kept
#   images of a class were about 16% less varied at the higher threshold (summed variance of
#   their retina features, which the cell calls pixel variance: 1.34 against 1.60). The
#   estimates then pointed against the paper, +0.034 for #predictions (−0.014 to +0.082) and
#   +0.019 for accuracy (−0.049 to +0.086), both intervals spanning zero. These models
#   trained on 6,000 pairs, half the others' steps (138 against 276), and reached top-1 0.019
#   (≥ q0) and 0.035 (≥ q0.5) at seed 0: the comparison has little power at `quick`; `full`
#   adds a third threshold and the pretrained tower on these variants.
# * The pretrained text tower comes from the pretraining-world CLIP (200,000 pairs of all
#   1000 concepts; chapter 2d: zero-shot top-1 0.348 on its own concepts, class prompts at a
#   mean cosine of 0.488). Initialised from it, CLIP's top-1 was three to five times the
#   scratch tower's on every variant trained with both (0.434 against 0.106 at α = 1, 0.176
#   against 0.034 at α = 2, 0.435 against 0.138 on the curated source; seed 0); chapter 2d
#   gives that gain's interval and compares the tower with a frozen language model (MiniLM).
