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
# world* (another seed, three times the concepts, twice the pairs; `studylib.chapters.pretraining`).
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
display(Markdown(f"{ch.params['n_classes']} classes, {ch.params['n_train']} pairs, {ch.params['epochs']} epochs; "
                 f"data card `{card.name}`; {len(ch.seeds())} training seed(s) at `{preset}`."))

# %% [markdown]
# ## The diversity knob
#
# Each caption's MiniLM similarity to "{name} which is {definition}" of its class is LAIONet's
# score. In the world, the more atypical an image, the more of its caption is about the image
# and the less about the class, so a higher threshold keeps more typical images. Every
# threshold's kept set is cut at random to the same number of pairs, so scale does not vary.

# %%
keeps = ch02c.similarity_keeps(ch.world(), preset, seed=seed)
x = ch.world().train.images.float().flatten(1) / 255
labels = ch.world().train.labels
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
    lines.append(f"* **Points `full` adds**: Zipf α {', '.join(f'{a:g}' for a in ch02c.ALPHAS['full'] if a not in ch02c.ALPHAS[preset])}; "
                 f"threshold quantiles {', '.join(f'{q:g}' for q in ch02c.QUANTILES['full'] if q not in ch02c.QUANTILES[preset])}; "
                 "the pretrained text tower on the threshold variants; the LAIONet profiles "
                 f"{', '.join(ch02c.LAIONET_FILES)}; three seeds.")
display(Markdown("\n".join(lines)))
claims.round(3)

# %% [markdown]
# **Reading it.** The verdicts above are computed; this paragraph says what each comparison
# can and cannot show in this world. Imbalance is varied with the class profile's exponent at
# a fixed number of pairs, so at α = 2 the tail classes hold only a few pairs each. The
# curated source holds centred photos only and the web-like one varied photos with a few
# shifted renderings, so "distribution shift" here mixes a shift of the photos with the
# presence of rare shifted images. The similarity threshold changes which images are kept and
# also which captions (the kept captions are the more class-like ones), as LAIONet's does.
# A verdict that is inconclusive at `quick` (one seed, 100 classes) is not evidence against
# the paper; `full` reruns it on three seeds.
