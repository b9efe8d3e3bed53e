import numpy as np
import pytest
import torch
from pytorch_lightning.loggers import Logger

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
    assert resumed_indices[12:] == stream.permutation(1)[:8].tolist()  # ... then the start of data epoch 1
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


def test_precision_recall_on_known_point_sets():
    from lit_gans.evaluation.precision_recall import kth_neighbour_radii, mean_pairwise_distance, precision_recall

    line = torch.arange(10.0).view(10, 1)  # 0, 1, ..., 9 on a line: the 3rd neighbour of 0 is 3, of 5 is 2 (4,6,3)
    assert kth_neighbour_radii(line, k=3).tolist() == [3, 2, 2, 2, 2, 2, 2, 2, 2, 3]
    assert precision_recall(line, line) == {"precision": 1.0, "recall": 1.0}
    far = line + 100
    assert precision_recall(line, far) == {"precision": 0.0, "recall": 0.0}
    # fakes covering only the low half: every fake is real-looking, only the low reals are recalled
    low = torch.tensor([[0.0], [0.5], [1.0], [1.5], [2.0]])
    values = precision_recall(line, low, k=3)
    assert values["precision"] == 1.0 and values["recall"] == pytest.approx(0.4)  # reals 0..3 within 1.5 of a fake
    assert mean_pairwise_distance(torch.tensor([[0.0], [1.0], [3.0]])) == pytest.approx((1 + 3 + 2) / 3)


def test_digits_scorer_states_the_real_reference_and_sees_collapse():
    dm = DigitsDataModule(resolution=16)
    dm.setup("fit")
    train_x, train_y = dm.train_images, dm.train_labels
    scorer = DigitsScorer.fit(train_x, train_y, dm.held_out_images, dm.held_out_labels)
    real = scorer.reference  # 100 training digits per class against the held-out digits
    assert real["accuracy"] > 0.95 and real["recall"] > 0.8 and real["precision"] > 0.8
    assert 0.85 < real["spread"] < 1.15 and set(real["spread_per_class"]) == set(range(10))
    labels = torch.arange(10).repeat_interleave(100)
    one_per_class = torch.stack([train_x[train_y == c][0] for c in range(10)])[labels]
    collapsed = scorer.score(one_per_class + 0.01 * torch.randn_like(one_per_class), labels)
    assert collapsed["accuracy"] > 0.9  # right classes ...
    assert collapsed["recall"] < 0.1 and collapsed["spread"] < 0.1  # ... but no variety: recall and spread see it
    assert collapsed["fid"] > 5 * real["fid"]


class RecordingLogger(Logger):
    """Keeps every record a logger is handed."""

    name, version, experiment = "recording", 0, None

    def __init__(self):
        super().__init__()
        self.records = []

    def log_metrics(self, metrics, step=None):
        self.records.append(dict(metrics))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def test_digits_quality_logs_diversity_and_the_real_reference_on_a_fraction_of_the_digits(tiny_sagan_kwargs):
    from callbacks import DigitsQuality, StopAt
    from conftest import make_trainer
    from lit_gans import SAGAN

    quality, logger = DigitsQuality(every_n_g_steps=2, per_class=10), RecordingLogger()
    data = DigitsDataModule(resolution=16, batch_size=8, train_fraction=0.1)
    make_trainer(quality, StopAt(g_steps=2), logger=logger, log_every_n_steps=1).fit(SAGAN(**tiny_sagan_kwargs), data)
    assert data.num_images == 143  # D trained on a tenth of the 1,437 ...
    assert len(quality.scorer.real_labels) == 360  # ... the scorer still uses the whole split and the held-out digits
    keys = set().union(*logger.records)
    assert {"digits/precision", "digits/recall", "digits/spread", "digits/fid"} <= keys
    real = next(r for r in logger.records if "digits_real/recall" in r)
    assert real["digits_real/recall"] == quality.reference["recall"] > 0.8
    assert 0 <= quality.last["recall"] <= 1 and quality.last["spread"] > 0
