import numpy as np
import torch

from datamodules import DigitsDataModule
from datamodules.sampler import StreamSampler
from lit_gans.evaluation import DigitsScorer, frechet_distance


def test_digits_datamodule_serves_stratified_splits_in_range():
    dm = DigitsDataModule(resolution=16, batch_size=32, held_out=0.2)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (32, 3, 16, 16) and labels.dtype == torch.long
    assert images.min() >= -1 and images.max() <= 1
    assert len(dm.train_set) + len(dm.held_out_labels) == 1797
    counts = torch.bincount(dm.held_out_labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # about 20% of ~180 per class


def test_stream_sampler_is_a_function_of_position():
    data = list(range(20))
    position = [0]
    sampler = StreamSampler(data, batch_size=4, position=lambda: position[0], seed=3)
    first_epoch = list(sampler)
    assert sorted(first_epoch) == sorted(first_epoch) and len(set(first_epoch)) == 20
    position[0] = 2
    resumed = list(sampler)
    assert resumed[:12] == first_epoch[8:]  # the rest of data epoch 0 ...
    assert resumed[12:] == sampler.epoch_indices(1)[:8]  # ... then the start of data epoch 1
    ranks = [StreamSampler(data, 4, lambda: 0, num_replicas=2, rank=r, seed=3) for r in (0, 1)]
    shards = [set(s) for s in ranks]
    assert not shards[0] & shards[1] and len(shards[0] | shards[1]) == 16


def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    s1, s2 = np.eye(3), 4 * np.eye(3)
    # |mu1 - mu2|^2 + tr(I + 4I - 2 * 2I) = 9 + 3
    assert abs(frechet_distance(mu1, s1, mu2, s2) - 12.0) < 1e-9
    assert abs(frechet_distance(mu2, s2, mu2, s2)) < 1e-9


def test_digits_scorer_tells_real_digits_from_noise():
    dm = DigitsDataModule(resolution=16)
    dm.setup("fit")
    train_x, train_y = dm.train_set.tensors
    scorer = DigitsScorer.fit(train_x, train_y, dm.held_out_images, dm.held_out_labels)
    assert scorer.real_accuracy > 0.9
    real = scorer.score(train_x[:500], train_y[:500])
    noise = scorer.score(torch.rand(500, 3, 16, 16) * 2 - 1, train_y[:500])
    assert real["accuracy"] > 0.9 and noise["accuracy"] < 0.4
    assert real["fid"] < noise["fid"] / 10
    assert set(real["accuracy_per_class"]) == set(range(10))
