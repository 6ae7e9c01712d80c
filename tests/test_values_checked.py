"""Values are checked before work starts (issue 28): non-finite floats, `pretrained` with the tiny CNN."""

from __future__ import annotations

import math

import pytest

from studylib.config import ConfigError, train_config, world_config
from studylib.session import Session


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_float_parameter_is_refused_by_name(value):
    with pytest.raises(ConfigError, match="parameter 'lr' must be a finite number"):
        train_config({"lr": value})
    with pytest.raises(ConfigError, match="parameter 'zipf_alpha' must be a finite number"):
        world_config({"zipf_alpha": value})


def test_a_non_finite_notebook_extra_is_refused_by_name():
    """`-p tau=NaN` in chapter 4 used to run to the end with meaningless tables and verdicts."""
    with pytest.raises(ConfigError, match="parameter 'tau' must be a finite number, got nan"):
        Session("04_discussions", "smoke", extras=dict(tau=(math.nan, float)), progress=False)


def test_pretrained_with_the_tiny_cnn_is_refused_not_ignored(tmp_path):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x")
    with pytest.raises(ConfigError, match="'pretrained'.*arch='tiny'"):
        train_config({"arch": "tiny", "pretrained": str(ckpt)})
    assert train_config({"arch": "RN50", "pretrained": str(ckpt)}).pretrained == str(ckpt)
