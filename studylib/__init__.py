"""studylib: a reproducible study of CLIP robustness to long-tailed pre-training data."""
__version__ = "0.1.0"
