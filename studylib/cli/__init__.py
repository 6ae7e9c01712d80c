"""The command line, ``python -m studylib ...``: ``main`` (the commands), ``distributed``, ``submit`` (Slurm)."""
