import numpy as np
import torch

from datamodules import DigitsDataModule
from datamodules.batch_stream import BatchStream
from lit_gans.evaluation import DigitsScorer, frechet_distance


def test_digits_datamodule_serves_stratified_splits_in_range():
    dm = DigitsDataModule(resolution=16, batch_size=32, held_out=0.2)
    dm.setup("fit")
    images, labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())))
    assert images.shape == (32, 3, 16, 16) and labels.dtype == torch.long
    assert images.min() >= -1 and images.max() <= 1
    assert len(dm.labels) + len(dm.held_out_labels) == 1797
    counts = torch.bincount(dm.held_out_labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # about 20% of ~180 per class


def test_batch_stream_is_a_function_of_position():
    position = [0]
    constant = lambda images_shown: (16, 1.0, 4)
    stream = BatchStream(20, constant, position=lambda: position[0], base_batch_size=4, seed=3, flip=True)
    first_epoch = [i for key in stream for i in key.indices]
    assert len(stream) == 5 and sorted(first_epoch) == list(range(20))
    position[0] = 8
    resumed = list(stream)
    resumed_indices = [i for key in resumed for i in key.indices]
    assert resumed_indices[:12] == first_epoch[8:]  # the rest of data epoch 0 ...
    assert resumed_indices[12:] == stream.epoch_indices(1)[:8].tolist()  # ... then the start of data epoch 1
    assert list(resumed[0].flips) == stream.stream(8, 4)[1] and any(f for key in resumed for f in key.flips)
    ranks = [BatchStream(20, constant, lambda: 0, 4, num_replicas=2, rank=r, seed=3) for r in (0, 1)]
    shards = [{i for key in s for i in key.indices} for s in ranks]
    assert not shards[0] & shards[1] and len(shards[0] | shards[1]) == 16  # 2 whole batches of 4 per rank


def test_batch_stream_follows_the_schedule_of_images_shown():
    def schedule(images_shown):  # 8 px with batch 4 until 8 images, then 16 px fading in with batch 2
        return (8, 1.0, 4) if images_shown < 8 else (16, min(1.0, (images_shown - 8) / 8), 2)

    keys = list(BatchStream(40, schedule, lambda: 0, base_batch_size=4, num_replicas=2, rank=1))
    assert [(k.resolution, k.alpha, len(k.indices)) for k in keys[:5]] == [
        (8, 1.0, 4), (16, 0.0, 2), (16, 0.5, 2), (16, 1.0, 2), (16, 1.0, 2)]  # images shown count both ranks


def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    s1, s2 = np.eye(3), 4 * np.eye(3)
    # |mu1 - mu2|^2 + tr(I + 4I - 2 * 2I) = 9 + 3
    assert abs(frechet_distance(mu1, s1, mu2, s2) - 12.0) < 1e-9
    assert abs(frechet_distance(mu2, s2, mu2, s2)) < 1e-9


def test_digits_scorer_tells_real_digits_from_noise():
    dm = DigitsDataModule(resolution=16)
    dm.setup("fit")
    train_x, train_y = dm.train_images, dm.train_labels
    scorer = DigitsScorer.fit(train_x, train_y, dm.held_out_images, dm.held_out_labels)
    assert scorer.real_accuracy > 0.9
    real = scorer.score(train_x[:500], train_y[:500])
    noise = scorer.score(torch.rand(500, 3, 16, 16) * 2 - 1, train_y[:500])
    assert real["accuracy"] > 0.9 and noise["accuracy"] < 0.4
    assert real["fid"] < noise["fid"] / 10
    assert set(real["accuracy_per_class"]) == set(range(10))
