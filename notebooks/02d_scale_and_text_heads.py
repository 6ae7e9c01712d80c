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
# # Chapter 2d · Scale and text heads: what does a pretrained text head give CLIP?
#
# Wen et al. (their Fig 5, claim **C6**) find that more data and a pretrained text head both
# help CLIP, and explain the head's effect with neural-collapse statistics: with a frozen
# pretrained head, CLIP keeps more variation *within* each class (higher NC1) without
# losing the classification margin, which SL does not reach even with the same head. Here
# CLIP trains at several data fractions with four text heads:
#
# * **scratch**: the text transformer trained from random weights;
# * **init**: initialised from the pretraining-world CLIP's text tower, then trained;
# * **frozen**: that text tower, frozen;
# * **frozen MiniLM**: a frozen language model (all-MiniLM-L6-v2, the stand-in for the paper's
#   RoBERTa) with a trained linear projection.
#
# SL with a linear head and SL with the frozen pretraining-world prototypes (the class-prompt
# embeddings of the same frozen text tower) are the controls. **Data scale holds the number of
# samples seen fixed**: a run on a fraction f of the pairs trains for epochs / f, so it takes as
# many steps as the full-data run (the table's `steps` column shows it, and the scale claim
# checks it), and "more data" does not also mean "more training".
#
# As in the paper, *discriminability* is top-1 and *robustness* is robustness to imbalance:
# the Spearman correlation of per-class #predictions and accuracy with training frequency
# (lower is more robust). NC1 is `tr(Σ_W Σ_B⁺) / C` on the photo test set's penultimate
# features, as in the paper's code (its interval is paired over classes: NC1 splits into one
# term per class). The **margin** is, per test image, the cosine of its feature with its own
# class's classifier weights minus the best cosine with any other class's (from the stored
# features and weights), averaged per class and then over classes; its interval is paired over
# classes too. NC2 is the spread (standard deviation) of the pairwise cosines between centred
# class means and between classifier weights (0 for perfectly even margins); the last column
# is the mean cosine between the raw class embeddings, how close the head's classes sit.

# %% tags=["parameters"]
preset: str = "quick"            # smoke | quick | full: sizes of world, models and training
seed: int = 0                    # training seed
world_seed: int = 0              # seed of the concept world

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from studylib import claims, plots
from studylib.chapters import ch02d
from studylib.session import Session

session = Session(ch02d.NAME, preset, sizes=ch02d.SIZES, overrides=dict(seed=seed, world_seed=world_seed))
fractions = ", ".join(f"{f:g}" for f in ch02d.FRACTIONS[preset])
display(Markdown(f"{session.params['n_classes']} classes, {session.params['n_train']} pairs at the full data; "
                 f"fractions {fractions}; {len(session.seeds())} seed(s) at `{preset}`."))

# %%
runs_by_seed = {k: session.run_all(ch02d.specs(session, seed=k)) for k in session.seeds()}
runs = runs_by_seed[seed]
stats = ch02d.table(runs, preset)
stats.round(3)

# %% [markdown]
# ## Accuracy, robustness to imbalance and collapse against data scale
#
# Every point below the full data took as many steps as the full-data run.

# %%
fig = plots.sweep(stats.rename(columns={"model": "group"}), "fraction",
                  "share of the training pairs (same steps)", panels=("top1", "r", "NC1"), logx=True,
                  title="Text heads against data scale")
session.save(fig, "text_heads_vs_scale", "CLIP with four text heads and SL controls: top-1, "
        "Spearman(#predictions, frequency) and NC1 against data scale, the number of samples seen held fixed")
plt.show()

# %% [markdown]
# ## What the numbers say

# %%
display(Markdown(claims.markdown(ch02d.claims(session, runs_by_seed))))

# %% [markdown]
# NC2 and the class embeddings at the full data, shown without a verdict (lower NC2: more even margins;
# the mean cosine of the frozen heads' rows is that of the pretraining-world CLIP's class prompts):

# %%
if preset != "full":
    display(Markdown(f"Points `full` adds: {ch02d.full_adds(preset)}."))
stats[stats["fraction"] == 1.0].set_index("model")[
    ["NC2 means (std cos)", "NC2 weights (std cos)", "class embeddings (mean cos)"]].round(3)

# %% [markdown]
# **Reading it.** The verdicts above are computed; this paragraph says what was seen at
# `quick`, seed 0 (100 classes, 5,000 pairs at the full data), and why. Trust the cell over
# it if a rerun disagrees.
#
# * *Scale, at a fixed number of samples seen.* The ×0.25 run trained 12 epochs on 1,250
#   pairs (228 steps against the full-data run's 234). Four times the distinct pairs raised
#   top-1 by 0.030 (0.050 → 0.080, interval +0.008 to +0.055). Robustness to imbalance did
#   not improve with them: both correlations with frequency were somewhat higher at the full
#   data (#predictions 0.31 against 0.26, accuracy 0.36 against 0.27), both intervals
#   spanning zero.
# * *Pretrained heads* split, part by part. The frozen MiniLM head raised top-1 by 0.074
#   (0.154 against 0.080, interval +0.043 to +0.108); the pretraining-world CLIP's tower
#   moved it by +0.018 initialised and −0.032 frozen, both intervals spanning zero. That
#   tower is a tiny CLIP trained on 10,000 captions spread over 1000 concepts: its class
#   prompts for this world's classes sit at a mean cosine of 0.89 to each other (the last
#   column, rows "CLIP, frozen" and "SL, frozen prototypes"), against 0.35 for MiniLM's
#   projected prompts and 0.81 for the scratch tower's, so frozen it leaves the images
#   little room between classes. Part of MiniLM's advantage is an oracle's: MiniLM
#   semantics also generate this world's pixels, so its space is aligned with the images by
#   construction. The paper's RoBERTa has no such advantage.
# * *Collapse and margin.* With the same frozen prototypes, CLIP's photo features kept more
#   within-class variation than SL's: NC1 50.2 against 46.5, a difference of +3.8 with an
#   interval of +1.5 to +6.0. That interval redraws classes, each model's NC1 being a sum of
#   per-class terms with its between-class geometry Σ_B held fixed; it says how much the
#   difference depends on which classes were drawn, not how well 10 test images per class
#   estimate Σ_B itself. The mean cosine margin was the same for both (−0.094 and −0.096; a
#   difference of +0.001, interval −0.007 to +0.010, inside the stated tolerance of 0.023).
#   Both margins are negative: most test photos sit closer to another class's prototype than
#   to their own, as top-1 of 0.048 and 0.088 says, and with prototypes at cosine 0.89 the
#   largest margin two classes allow is about 0.47. "Without losing margin" therefore means
#   here that neither model separates the classes well, not that both separate them as the
#   paper's models do. NC2 is shown without a verdict.
