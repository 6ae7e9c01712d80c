"""This study's chapters: one module per chapter, with its world sizes, run specs and analysis.

* ``ch01``: robustness origins (effective robustness, sources, language, train-test similarity);
* ``ch02``: imbalance (SL, SL with vocabulary subsampling, CLIP; frequency estimation; the real long tail);
* ``ch02b``: language and vocabulary (data scale, caption descriptiveness, vocabulary size and weighting);
* ``ch02c``: data distribution (imbalance, curated vs web source, similarity threshold; scratch vs
  pretrained text tower);
* ``ch02d``: data scale × text heads (scratch, initialised, frozen, frozen MiniLM), SL controls, NC1 with
  the features' margin, NC2; data scale at a fixed number of samples seen;
* ``ch02e``: open-world concepts (CLIP and SL with and without a disjoint pool of extra concepts);
* ``ch03a``: SL under an extreme long tail (one-/zero-shot tail; linear head, fixed CLIP prototypes with and
  without vocabulary subsampling, the MiniLM oracle, CLIP with a frozen text tower); head affinities;
* ``ch03b``: DINO pretrained on balanced and long-tailed data, with and without prototype subsampling, probed
  on disjoint downstream concepts; unique prototypes;
* ``ch04``: discussions (logit adjustment of chapter 2's stored logits, binned statistics, frequency
  estimators on real data and on the world, imbalance of other concept sets);
* ``evidence``: what the claims rest on (per-class tables, paired parts over seeds, accuracy matching);
* ``worlds``: the worlds several chapters share (so one chapter's runs are reused by another);
* ``pretraining``: the pretraining-world CLIP that lends its text tower to 2c, 2d and 3a;
* ``stored``: a chapter's runs read back from the registry for the results table;
* ``summary``: the study's claims table, from every chapter's ``claims``.

Chapter modules never import each other. Each module's docstring gives the command that runs its
notebook; every chapter's verdicts at ``quick`` are in the README's generated table. Generic modules
never import from here.
"""

import importlib
import pkgutil

from studylib.fingerprint import analysis_fingerprint

# The code this process runs, named when the chapters are first imported (the fingerprint is kept for the
# process): the summary's claim rows are cached under it. Read later, from files edited meanwhile, it would name
# code this process never ran, and a long-lived runner would store old rows under the new code's name.
analysis_fingerprint()

# What every chapter module holds (tests/test_architecture.py checks it):
#   NAME: str              its notebook's stem, e.g. "02_imbalance"
#   SIZES: dict            preset -> world and training sizes of its session
#   SEEDS: dict            preset -> how many training seeds its claims are decided over
#   AFTER: tuple[str, ...] the chapters whose runs it reuses: the runner starts it only after those have
#                          finished, so two chapters never train the same run at once
#   specs(session, seed=None) -> dict     label -> RunSpec of every run its claims need, for one seed
#   claims(session, runs_by_seed) -> list  its claim rows (studylib.claims.claim_row), from those runs
#   full_adds(preset) -> str               what the `full` preset runs beyond `preset`
CONTRACT = ("NAME", "SIZES", "SEEDS", "AFTER", "specs", "claims", "full_adds")


def modules() -> list:
    """Every chapter module (``chNN*.py``), in reading order: the one chapter list of the study."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch") and m.name[2:4].isdigit()
    )
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def after() -> dict:
    """chapter name -> the chapters whose runs it reuses, from each module's ``AFTER``."""
    return {m.NAME: tuple(m.AFTER) for m in modules() if m.AFTER}
