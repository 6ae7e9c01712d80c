"""studylib: a reproducible study of CLIP robustness to long-tailed pre-training data."""

__version__ = "0.3.1"  # part of every run key: bump whenever training or the world change results
