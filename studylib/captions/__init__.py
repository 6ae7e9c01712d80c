"""The caption toolbox: concept frequencies of caption corpora, and what to do with them.

Why: the paper's central variable is how often each class is *named* in the
pre-training captions. These modules estimate that profile from any caption
corpus (fast enough for web-scale shards), score the estimate where the true
labels are known, compare profiles across corpora, and build curated
variants of a dataset. Each module has one job; import from the module::

    from studylib.captions.patterns import build_patterns
    from studylib.captions.counting import count_captions

Modules:

* :mod:`~studylib.captions.patterns`: tokenisation, inflections, concept specs
  and concept files, compiled synonym :class:`Patterns` (``build_patterns``).
* :mod:`~studylib.captions.readers`: caption files (text, TSV/CSV, parquet,
  webdataset tar): format detection, globs, shards, batch readers.
* :mod:`~studylib.captions.hashindex`: a vectorised hash index (vocabulary
  words, trie edges).
* :mod:`~studylib.captions.matching`: the vectorised matcher (one batch of
  captions -> unique (caption, concept) pairs) and ``match_reference``, its
  plain-Python specification.
* :mod:`~studylib.captions.fastscan`: the fast path for text files: byte
  blocks normalised with ``bytes.translate``, matched by the same word walk.
* :mod:`~studylib.captions.results`: ``FrequencyResult`` and its writers
  (counts TSV/parquet, per-caption matches parquet).
* :mod:`~studylib.captions.counting`: ``count_captions`` (in memory) and
  ``count_files`` (files, shard-parallel on processes or a Dask cluster).
* :mod:`~studylib.captions.scoring`: precision/recall of an estimator against
  known labels (``score_matches``) and the estimation table / card section.
* :mod:`~studylib.captions.profiles`: the one reader of ``classname<TAB>count``
  files, profile alignment, correlations, imbalance statistics, ranked plot.
* :mod:`~studylib.captions.curation`: seeded, carded dataset variants
  (resampling, scale subsets, tail trimming, MetaCLIP balancing, LAIONet
  filter, deduplication).
"""
