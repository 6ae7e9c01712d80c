"""This study's chapters: one module per chapter, with its world sizes, run specs and analysis.

* ``ch01``: robustness origins (effective robustness, sources, language, train-test similarity);
* ``ch02``: imbalance (SL, SL with vocabulary subsampling, CLIP; frequency estimation; the real long tail);
* ``ch02b``: language and vocabulary (data scale, caption descriptiveness, vocabulary size and weighting);
* ``ch02c``: data distribution (imbalance, curated vs web source, similarity threshold; scratch vs
  pretrained text tower);
* ``ch02d``: data scale × text heads (scratch, initialised, frozen, frozen MiniLM), SL controls, NC1/NC2;
* ``ch02e``: open-world concepts (CLIP and SL with and without a disjoint pool of extra concepts);
* ``ch03a``: SL under an extreme long tail (one-/zero-shot tail; linear head, fixed CLIP prototypes with and
  without vocabulary subsampling, the MiniLM oracle, CLIP with a frozen text tower); head affinities;
* ``ch03b``: DINO pretrained on balanced and long-tailed data, with and without prototype subsampling, probed
  on disjoint downstream concepts; unique prototypes;
* ``ch04``: discussions (logit adjustment of chapter 2's stored logits, binned statistics, frequency
  estimators on real data and on the world, imbalance of other concept sets);
* ``pretraining``: the pretraining-world CLIP that lends its text tower to 2c, 2d and 3a;
* ``stored``: a chapter's runs read back from the registry for its ``summary``.

Each module's docstring gives the command that runs its notebook (and ch01/ch02 the numbers it
produced); every chapter's verdicts at ``quick`` are in the README's generated table.
Generic modules never import from here.
"""

# Which chapters reuse runs another trains: the runner starts a chapter only after these have finished,
# so two chapters never train the same run at once (``studylib.execute.run_chapters(after=...)``).
AFTER = {"02d_scale_and_text_heads": ("02c_data_distribution",),
         "02e_open_world": ("02b_language_and_vocabulary",),
         "03a_extreme_tail": ("02c_data_distribution",),      # the pretraining-world CLIP
         "04_discussions": ("02_imbalance", "02c_data_distribution")}
