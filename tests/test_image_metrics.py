"""FID/KID callback plumbing with a small stand-in for the Inception (fast); the Inception itself is tested in
test_inception.py."""
import numpy as np
import pytest
import torch

from callbacks import ImageMetrics, MonitorWarning, StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN
from lit_gans.evaluation.frechet import frechet_distance, gaussian_stats
from lit_gans.images import to_uint8


class ChannelStats(torch.nn.Module):
    """uint8 (N, 3, H, W) -> (N, 6): per-channel mean and standard deviation, a stand-in feature extractor."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))  # a weight that must never reach a checkpoint

    def forward(self, images):
        x = images.float() / 255 * self.scale
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


def test_fid_and_kid_are_logged_and_match_an_independent_computation(tiny_sagan_kwargs, tmp_path):
    metrics = ImageMetrics(every_n_g_steps=2, num_samples=32, num_real=64, batch_size=16, kid_subsets=5,
                           kid_subset_size=16)
    metrics.evaluator.extractor = ChannelStats()
    model = SAGAN(**tiny_sagan_kwargs)
    data = digits()
    trainer = make_trainer(metrics, StopAt(g_steps=4))
    trainer.fit(model, data)
    assert [row["g_step"] for row in metrics.history] == [2, 4]
    assert trainer.callback_metrics["metrics/fid"] == pytest.approx(metrics.history[-1]["metrics/fid"])
    assert metrics.history[-1]["metrics/kid_std"] >= 0

    # the same numbers from scratch: real features of the first 64 pyramid images, fakes regenerated from the seeds
    extractor = ChannelStats()
    with torch.no_grad():
        real = extractor(torch.as_tensor(np.asarray(data.levels[16][:64]))).double().numpy()
        fakes = []
        for start in (0, 16):
            seed = int(np.random.SeedSequence([0, 4, start]).generate_state(1)[0])
            fakes.append(extractor(to_uint8(model.sample(16, seed=seed))))
        fake = torch.cat(fakes).double().numpy()
    expected = frechet_distance(*gaussian_stats(torch.from_numpy(fake)), *gaussian_stats(torch.from_numpy(real)))
    assert metrics.history[-1]["metrics/fid"] == pytest.approx(expected, rel=1e-3)

    trainer.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert not any("scale" in key or "inception" in key for key in checkpoint["state_dict"])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="kid_subset_size 1000 exceeds num_samples 100"):
        ImageMetrics(num_samples=100)


def test_model_checkpoint_keeps_the_best_checkpoint_by_fid(tiny_sagan_kwargs, tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    metrics = ImageMetrics(every_n_g_steps=2, num_samples=16, num_real=32, batch_size=16, kid_subsets=3,
                           kid_subset_size=8)
    metrics.evaluator.extractor = ChannelStats()
    best = ModelCheckpoint(dirpath=tmp_path, monitor="metrics/fid", mode="min", save_top_k=1,
                           every_n_train_steps=4)  # global steps: one D and one G step per batch = every 2 G steps
    make_trainer(metrics, StopAt(g_steps=8), best, enable_checkpointing=True).fit(SAGAN(**tiny_sagan_kwargs), digits())
    fids = [row["metrics/fid"] for row in metrics.history]
    assert len(fids) == 4 and float(best.best_model_score) == pytest.approx(min(fids))
    assert torch.load(best.best_model_path, weights_only=True)["lit_gans"]["g_steps"] == 2 * (1 + fids.index(min(fids)))


class CountingStats(ChannelStats):
    def __init__(self):
        super().__init__()
        self.images_seen = 0

    def forward(self, images):
        self.images_seen += len(images)
        return super().forward(images)


def test_real_statistics_are_saved_and_reused_by_the_next_run(tiny_sagan_kwargs, tmp_path):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        metrics = ImageMetrics(every_n_g_steps=2, num_samples=16, num_real=48, batch_size=16, kid_subsets=3,
                               kid_subset_size=8, stats_dir=str(tmp_path / "stats"))
        metrics.evaluator.extractor = CountingStats()
        make_trainer(metrics, StopAt(g_steps=2)).fit(SAGAN(**tiny_sagan_kwargs), digits())
        runs.append(metrics)
    assert len(list((tmp_path / "stats").glob("real-16px-*.pt"))) == 1
    assert runs[0].evaluator.extractor.images_seen - runs[1].evaluator.extractor.images_seen == 48  # reals read once, by the first run
    assert runs[1].evaluator.extractor.images_seen == 1 + 16  # a probe of the feature size, then the fakes, once for both metrics
    assert runs[1].history[0]["metrics/fid"] == pytest.approx(runs[0].history[0]["metrics/fid"], rel=1e-9)



def test_inception_score_is_refused_without_the_classifier_head(tiny_sagan_kwargs, monkeypatch, tmp_path):
    from lit_gans.evaluation import inception

    weights = tmp_path / "features-only.pth"
    weights.write_bytes(b"x")
    monkeypatch.setattr(inception, "inception_weights", lambda path=None: (weights, False))
    metrics = ImageMetrics(num_samples=16, kid_subset_size=8, inception_score=True, strict=True)
    with pytest.raises(ValueError, match="inception_score needs Inception weights with the classifier head"):
        metrics.setup(None, SAGAN(**tiny_sagan_kwargs), "fit")
    observing = ImageMetrics(num_samples=16, kid_subset_size=8, inception_score=True)  # a monitor: reported, off
    with pytest.warns(MonitorWarning, match="inception_score needs Inception weights with the classifier head"):
        observing.setup(None, SAGAN(**tiny_sagan_kwargs), "fit")
    assert observing.failure is not None
