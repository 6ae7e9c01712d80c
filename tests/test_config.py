import pytest

from studylib.config import PRESETS, ConfigError, train_config, world_config
from studylib.spec import resolve


def test_presets_resolve_and_quick_world_exceeds_a_batch():
    for name in PRESETS:
        p = resolve(name)
        world_config(p), train_config(p)
    q = resolve("quick")
    assert q["n_classes"] >= 2 * q["batch_size"]  # vocabulary subsampling must be able to matter


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"epochs": "three"}, "parameter 'epochs' must be int, got str 'three'"),
        ({"epochs": 2.5}, "parameter 'epochs' must be int"),
        ({"epochs": True}, "parameter 'epochs' must be int"),
        ({"lr": "fast"}, "parameter 'lr' must be float"),
        ({"objective": "barlow_twins"}, "parameter 'objective' must be one of"),
        ({"semantic_share": 1.5}, "parameter 'semantic_share' must lie in [0, 1]"),
        ({"batch_size": 0}, "parameter 'batch_size' must be > 0"),
        ({"epoch": 3}, "unknown parameter 'epoch'"),
    ],
)
def test_bad_parameters_name_the_parameter(params, fragment):
    with pytest.raises(ConfigError) as err:
        resolve("smoke", **params)
    assert fragment in str(err.value)


def test_unknown_preset_is_named():
    with pytest.raises(ConfigError, match="'preset' must be one of"):
        resolve("huge")


def test_overrides_win_and_none_keeps_preset():
    p = resolve("smoke", epochs=3, n_classes=None)
    assert p["epochs"] == 3 and p["n_classes"] == PRESETS["smoke"]["n_classes"]
    assert isinstance(resolve("smoke", lr=1)["lr"], float)


def test_seeds_must_be_non_negative():
    from studylib.config import ConfigError
    from studylib.spec import resolve

    for name in ("seed", "world_seed"):
        with pytest.raises(ConfigError, match=f"parameter '{name}' must be >= 0, got -1"):
            resolve("smoke", **{name: -1})
