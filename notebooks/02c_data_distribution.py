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
# world as LAION's name ImageNet's; twice the pairs; `studylib.chapters.pretraining`).
# Robustness is the mean per-class accuracy over the four shifted test sets. Every
# comparison is a paired difference over the same classes; every verdict is computed.

# %% tags=["parameters"]
preset: str = "quick"            # smoke | quick | full: sizes of world, models and training
seed: int = 0                    # training seed
world_seed: int = 0              # seed of the concept world
shared_data: str = "../../shared/data"   # the shared real data (LAIONet profiles at `full`); absent: skipped

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from studylib import plots
from studylib.chapters import ch02, ch02c
from studylib.session import Session

ch = Session(ch02c.NAME, preset, sizes=ch02c.SIZES, overrides=dict(seed=seed, world_seed=world_seed))
card = ch.card("data_distribution")
ch.card("data_distribution_diversity", **ch02c.DIVERSITY_WORLD)
display(Markdown(f"{ch.params['n_classes']} classes, {ch.params['n_train']} pairs, {ch.params['epochs']} epochs; "
                 f"data card `{card.name}`; {len(ch.seeds())} training seed(s) at `{preset}`."))

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
diverse_world = ch.world(**ch02c.DIVERSITY_WORLD)
keeps = ch02c.similarity_keeps(diverse_world, preset, seed=seed)
x = diverse_world.train.images.float().flatten(1) / 255
labels = diverse_world.train.labels
diversity = {q: ch02c.within_class_diversity(x, labels, keep) for q, keep in keeps.items()}
display(Markdown("Within-class pixel variance of the kept images, by threshold quantile: "
                 + ", ".join(f"≥ q{q:g}: {v:.2f}" for q, v in diversity.items()) + "."))

# %%
runs_by_seed = {k: ch.run_all(ch02c.specs(ch, seed=k, keeps=keeps)) for k in ch.seeds()}
runs = runs_by_seed[seed]
profiles = Path(shared_data) / "frequencies"
if preset == "full" and profiles.is_dir():
    runs.update(ch.run_all(ch02c.laionet_specs(ch, profiles, seed=seed)))
elif preset == "full":
    display(Markdown(f"*`{shared_data}` is absent: the LAIONet-profile runs are skipped.*"))
table = ch02c.overview(runs)
table.round(3)

# %% [markdown]
# ## Bias and robustness of every variant
#
# Left: bias (Spearman correlation of #predictions with each run's own training counts)
# against top-1 on photos; right: robustness (mean accuracy on the shifts) against top-1.

# %%
fig = plots.bias_vs_accuracy(ch02.bias_points(runs, {k: k.split(", ")[-1] + " text tower" for k in runs}),
                             title=f"Data variants: bias against top-1 ({preset})")
ch.save(fig, "data_distribution_bias", "CLIP on data variants (imbalance, source, similarity threshold): bias against top-1")
plt.show()
fig = plots.robustness_vs_accuracy(table)
ch.save(fig, "data_distribution_robustness", "CLIP on data variants: mean accuracy on the shifts against top-1")
plt.show()

# %% [markdown]
# ## What the numbers say

# %%
claims = ch02c.claims(runs_by_seed, preset)
words = ch02c.claim_verdicts(claims)
lines = [f"* **{r.part}** ({r.head} text tower): {r.comparison}, {r.measure} {r.difference:+.3f} "
         f"[{r.lo:+.3f}, {r.hi:+.3f}] ({r.interval}): {r.verdict}." for r in claims.itertuples()]
lines += [f"* **Verdict, {claim}**: **{word}**." for claim, word in words.items()]
if preset != "full":
    lines.append(f"* **Points `full` adds**: {ch02c.full_adds(preset)}.")
display(Markdown("\n".join(lines)))
claims.round(3)

# %% [markdown]
# **Reading it.** The verdicts above are computed; this paragraph says what was seen at
# `quick`, seed 0 (100 classes, 5,000 pairs), and what each comparison can show. Trust the
# cell over it if a rerun disagrees.
#
# * *Imbalance (C4).* At Zipf α = 2 the tail classes hold a few pairs each and CLIP's top-1
#   roughly halved. Its #predictions correlation did not rise clearly; with either tower its point
#   estimate fell, as a weaker model's flatter predictions would. The raw correlation mixes "more biased"
#   with "less accurate", as in chapter 2; an accuracy-matched reference for CLIP does not
#   exist here yet.
# * *Distribution shift.* The curated source (centred photos only) and the web-like one
#   (varied photos, 5% shifted renderings) gave CLIP about the same accuracy on curated-like
#   photos and on the shifts, within two points, with either text tower (with the pretrained
#   tower the web-like source's point estimates were the lower ones on both). In this world the
#   two sources' photos differ only in nuisance strength (0.8 against 1.0,
#   `studylib.config.SOURCES`), and 5% of 5,000 pairs is about 250 shifted images, so neither
#   half of the paper's claim has much room to show.
# * *Diversity (C5).* The threshold did change what the model saw: the kept images of a class
#   were about 11% less varied at the higher threshold. Robustness barely moved, and it sits at
#   about 2% on the shifts (chance is 1%), so this comparison has little power at `quick`.
# * The pretraining-world CLIP that lends its text tower is itself a tiny model (the same
#   sizes, 10,000 pairs spread over 1000 concepts), which limits what "pretrained" can add
#   here: the pretrained tower's top-1 was within two points of the scratch tower's on each
#   variant both were trained on; chapter 2d compares it with a real pretrained language
#   model (MiniLM).
