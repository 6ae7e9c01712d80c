import pytest

from studylib.cards import caption_stats, card_markdown, config_hash, write_card, write_world_card
from studylib.config import CAPTION_LEVELS, world_config
from studylib.world import make_world


def test_world_card_is_written_once_per_config(tiny_params, _isolated_outputs):
    wc = world_config(tiny_params)
    built = []

    def build():
        built.append(1)
        return make_world(wc)

    path = write_world_card((wc, build), "smoke", stem="world-test")
    text = path.read_text()
    assert f"config-hash: {config_hash(wc)}" in text and "![profile](world-test-profile.png)" in text
    assert (path.parent / "world-test-profile.png").read_bytes()[:4] == b"\x89PNG"
    for level in ("template_name", "full_text"):
        assert level in text
    write_world_card((wc, build), "smoke", stem="world-test")
    assert built == [1]  # current card: no world was built again
    other = world_config(tiny_params, zipf_alpha=2.0)
    write_world_card((other, lambda: make_world(other)), "smoke", stem="world-test")
    assert f"config-hash: {config_hash(other)}" in path.read_text()


def test_caption_stats_by_hand(tiny_params):
    w = make_world(world_config(tiny_params))
    stats = caption_stats(w).set_index("level")
    assert stats["captions"].sum() == len(w.train)
    assert set(stats.index) <= set(CAPTION_LEVELS)
    assert stats.loc["description", "names_own_concept"] == 0.0
    assert stats.loc["template_name", "names_own_concept"] == pytest.approx(
        sum(
            int(y) in m
            for y, m, lv in zip(w.train.labels, w.train.caption_mentions, w.train.caption_level)
            if lv == 0
        )
        / stats.loc["template_name", "captions"]
    )


def test_write_card_is_the_one_writer(tmp_path):
    sections = [("Parameters", "| parameter | value |\n|---|---|\n| seed | 0 |"), ("Notes", "- kept all")]
    path = write_card(
        tmp_path / "cards" / "x.md",
        "Data card: x",
        "What it is.",
        sections,
        footer="Made by a test.",
        images={"x-profile.png": b"\x89PNG"},
    )
    assert path.read_text() == (
        "# Data card: x\n\nWhat it is.\n\n## Parameters\n| parameter | value |\n"
        "|---|---|\n| seed | 0 |\n\n## Notes\n- kept all\n\nMade by a test.\n"
    )
    assert path.read_text() == card_markdown("Data card: x", "What it is.", sections, "Made by a test.")
    assert (path.parent / "x-profile.png").read_bytes() == b"\x89PNG"
    # curated variants are carded by the same writer
    from studylib.captions.curation import trim_tail

    v = trim_tail([0, 0, 0, 1], k=1, shots=0)
    assert v.write_card(tmp_path / "v.md").read_text() == v.card
    assert v.card.startswith("# Data card: trim_k1_c0\n\n") and "\n## Parameters\n| parameter |" in v.card
