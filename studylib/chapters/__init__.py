"""This study's chapters: one module per chapter, with its world sizes, run specs and analysis.

* ``ch01``: robustness origins (effective robustness, sources, language, train-test similarity);
* ``ch02``: imbalance (SL, SL with vocabulary subsampling, CLIP; frequency estimation; the real long tail);
* ``ch02b``: language and vocabulary (data scale, caption descriptiveness, vocabulary size and weighting);
* ``ch02e``: open-world concepts (CLIP and SL with and without a disjoint pool of extra concepts).

Each module's docstring gives the command that runs its notebook and the numbers it produced.
Generic modules never import from here.
"""
