"""Derived seeds (studylib.seeds) keep the values every stored run was made with."""

import numpy as np

from studylib import seeds


def test_stream_numbers_are_todays_and_distinct():
    assert seeds.STREAMS == {
        "subset": 1,
        "profile": 2,
        "latent": 3,
        "decoder": 4,
        "train": 5,
        "captions": 6,
        "test": 7,
        "source": 8,
        "shift": 9,
        "photo": 10,
        "v2": 11,
        "sketch": 12,
        "rendition": 13,
        "objectnet": 14,
        "open": 15,
        "prototypes": 99,
        "feature_sample": 31337,
    }
    assert len(set(seeds.STREAMS.values())) == len(seeds.STREAMS)


def test_generators_draw_what_the_literal_seed_lists_drew():
    for seed, stream, more in (
        (0, "profile", ()),
        (3, "latent", (1, 417)),
        (2, "test", (12,)),
        (5, "open", ()),
    ):
        a = seeds.rng(seed, stream, *more).integers(2**62, size=4)
        b = np.random.default_rng([seed, seeds.STREAMS[stream], *more]).integers(2**62, size=4)
        assert (a == b).all()
    assert seeds.rng(1, "test", seeds.STREAMS["v2"]).random() == np.random.default_rng([1, 7, 11]).random()


def test_integer_seeds_are_todays_formulas():
    for seed in (0, 1, 7):
        for step in (0, 1, 935, 7918):
            assert seeds.step_seed(seed, step) == seed * 7_919 + step
        for epoch in (0, 1, 14):
            assert seeds.epoch_seed(seed, epoch) == seed * 1_000_003 + epoch
            restarted = np.random.SeedSequence([seed, epoch, 2, 0x5EED]).generate_state(1, np.uint64)[0] >> 1
            assert seeds.epoch_seed(seed, epoch, 2) == int(restarted)
            for worker in (0, 3):
                assert (
                    seeds.shuffle_buffer_seed(seed, epoch, worker)
                    == (seed * 1_000_003 + epoch) * 1009 + worker
                )
            state = np.random.SeedSequence([seed, epoch, 41]).generate_state(1, np.uint64)[0]
            assert seeds.sample_seed(seed, epoch, 41) == int(state)
    assert [seeds.decoder_part_seed(10, p) for p in ("colour", "texture", "silhouette")] == [10, 11, 12]
    assert seeds.substream(4, 1) == [4, 1] and seeds.training_seeds(3, 3) == (3, 4, 5)


def test_per_step_seeds_of_neighbouring_run_seeds_never_meet_within_a_run():
    steps = range(seeds.STEP_STRIDE)
    assert not {seeds.step_seed(0, s) for s in steps} & {seeds.step_seed(1, s) for s in steps}
