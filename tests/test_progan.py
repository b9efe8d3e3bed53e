"""ProGAN and ProGrowth: the official schedule, fade-in continuity, equalized lr, minibatch stddev, gradient
penalty, per-stage parameter counts, exact mid-fade resume and a progressive fit on the digits."""
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from callbacks import EMA, ProGrowth, StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN, ProGAN
from lit_gans.objective.gradient_penalty import gradient_penalty
from lit_gans.layers import EqualizedConv2d, EqualizedLinear, minibatch_stddev, pixel_norm
from lit_gans.networks.progan import ProGANDiscriminator, ProGANGenerator

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(resolution=16, z_dim=16, num_classes=10, fmap_base=64, fmap_max=32)


def growth(final, stabilize, fade, start=4):
    g = ProGrowth(start_resolution=start, stabilize_kimg=stabilize, fade_kimg=fade)
    g.final_resolution = final
    return g


def test_lod_and_alpha_match_the_official_schedule_at_spot_points():
    official = growth(1024, 600, 600)  # reference/progan.md §1.4, R = 10
    for kimg, lod in ((0, 8.0), (599, 8.0), (900, 7.5), (1200, 7.0), (9300, 0.5), (9600, 0.0), (15000, 0.0)):
        assert official.lod(kimg) == pytest.approx(lod), kimg
    assert official.stage(900_000) == (8, 0.5)  # fading in 8x8: the new resolution is active, alpha = 1 - frac(lod)
    assert official.stage(1_500_000) == (8, 1.0)
    assert official.stage(9_300_000) == (1024, 0.5)
    paper = growth(1024, 800, 800)  # 800 / 800: 16 fades in over 2400-3200 kimg, stabilises over 3200-4000
    assert paper.stage(2_600_000) == (16, 0.25) and paper.stage(3_500_000) == (16, 1.0)
    assert paper.stage(799_000) == (4, 1.0) and paper.stage(12_400_000) == (1024, 0.5)
    cifar = growth(32, 400, 400)
    assert cifar.stage(2_200_000) == (32, 0.5) and cifar.stage(20_000_000) == (32, 1.0)
    from_16 = growth(256, 10, 10, start=16)
    assert from_16.stage(0) == (16, 1.0) and from_16.stage(15_000) == (32, 0.5)


def test_generator_output_is_continuous_when_a_stage_starts_fading_in():
    G = ProGANGenerator(**TINY)
    z, y = torch.randn(4, 16), torch.arange(4)
    G.set_stage(8, 1.0)
    coarse = G(z, y)
    G.set_stage(16, 0.0)
    assert torch.allclose(G(z, y), F.interpolate(coarse, scale_factor=2, mode="nearest"), atol=1e-6)
    G.set_stage(16, 0.5)
    assert not torch.allclose(G(z, y), F.interpolate(coarse, scale_factor=2, mode="nearest"))
    D = ProGANDiscriminator(16, 10, 64, 32)
    x = torch.randn(4, 3, 16, 16)
    D.set_stage(8, 1.0)
    low = D(F.avg_pool2d(x, 2), y)
    D.set_stage(16, 0.0)
    assert torch.allclose(D(x, y), low, atol=1e-5)


def test_equalized_lr_scales_weights_at_run_time():
    conv = EqualizedConv2d(8, 4, 3)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.15) and torch.equal(conv.bias, torch.zeros(4))
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * math.sqrt(2) / math.sqrt(8 * 9), padding=1), atol=1e-6)
    linear = EqualizedLinear(16, 3, gain=1.0)
    v = torch.randn(5, 16)
    assert torch.allclose(linear(v), v @ (linear.weight / 4).T, atol=1e-6)
    G = ProGANGenerator(**TINY)
    assert G.input.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(26)) and G.to_rgb["8"].scale == pytest.approx(1 / math.sqrt(16))  # 16 channels at 8 px


def test_minibatch_stddev_on_a_known_batch():
    x = torch.arange(8 * 2 * 2 * 2, dtype=torch.float32).reshape(8, 2, 2, 2) ** 1.5
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (8, 3, 2, 2) and torch.equal(out[:, :2], x)
    for m in range(2):  # groups are strided: group m = samples m, m + 2, m + 4, m + 6
        group = x[m::2]
        expected = group.var(dim=0, unbiased=False).add(1e-8).sqrt().mean()
        for member in range(m, 8, 2):
            assert torch.allclose(out[member, 2], expected.expand(2, 2))
    with pytest.raises(ValueError, match="divisible by the group size 4"):
        minibatch_stddev(torch.randn(6, 2, 2, 2))
    assert pixel_norm(torch.full((1, 4, 1, 1), 3.0)).flatten().tolist() == pytest.approx([1.0] * 4)


def test_minibatch_stddev_styles_on_known_batches():
    """gan-zoo: consecutive groups, unbiased, the whole batch when indivisible; class: the group is the class."""
    x = torch.arange(8 * 2 * 2 * 2, dtype=torch.float32).reshape(8, 2, 2, 2) ** 1.5
    zoo = minibatch_stddev(x, group_size=4, style="gan-zoo")
    for g in range(2):
        expected = x[4 * g : 4 * g + 4].var(dim=0).add(1e-8).sqrt().mean()
        assert torch.allclose(zoo[4 * g : 4 * g + 4, 2], expected.expand(4, 2, 2))
    whole = minibatch_stddev(x[:6], group_size=4, style="gan-zoo")
    assert torch.allclose(whole[:, 2], x[:6].var(dim=0).add(1e-8).sqrt().mean().expand(6, 2, 2))
    labels = torch.tensor([2, 0, 2, 0, 0, 1, 2, 1])
    by_class = minibatch_stddev(x, style="class", labels=labels)
    for c in range(3):
        members = x[labels == c]
        expected = members.var(dim=0, unbiased=False).add(1e-8).sqrt().mean()
        assert torch.allclose(by_class[labels == c, 2], expected.expand(int((labels == c).sum()), 2, 2))
    # classes that differ from each other but not within: mixed groups see spread, the class statistic none
    collapsed = torch.randn(3, 2, 2, 2)[labels]
    assert minibatch_stddev(collapsed, 4)[:, 2].min() > 0.3
    assert minibatch_stddev(collapsed, style="class", labels=labels)[:, 2].max() < 1e-3
    with pytest.raises(ValueError, match="style must be one of"):
        minibatch_stddev(x, style="strided")


def test_gradient_penalty_matches_autograd_and_the_analytic_value():
    w = torch.randn(3, 4, 4)

    def smooth_d(x, labels):  # per-sample gradient w * (1 - tanh(w x)^2), known in closed form
        return torch.tanh(x * w).sum(dim=(1, 2, 3))

    real, fake, u = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4), torch.rand(5, 1, 1, 1)
    x_hat = real + u * (fake - real)
    grad = w * (1 - torch.tanh(x_hat * w) ** 2)
    for target in (1.0, 750.0):
        expected = ((grad.flatten(1).norm(dim=1) - target) ** 2).mean() / target**2
        assert gradient_penalty(smooth_d, real, fake, None, u, target).item() == pytest.approx(expected.item(), rel=1e-5)
    # differentiable w.r.t. D's weights: compare the double-backward gradient with finite differences
    w.requires_grad_(True)
    penalty = gradient_penalty(smooth_d, real, fake, None, u)
    analytic, = torch.autograd.grad(penalty, w)
    eps, index = 1e-3, (1, 2, 3)
    w.data[index] += eps
    up = gradient_penalty(smooth_d, real, fake, None, u).detach()
    w.data[index] -= 2 * eps
    down = gradient_penalty(smooth_d, real, fake, None, u).detach()
    assert analytic[index].item() == pytest.approx(((up - down) / (2 * eps)).item(), rel=1e-2, abs=1e-4)


def test_parameter_counts_match_the_paper_per_stage(capsys):
    from lit_gans.cli import main

    main(["describe", "--config", str(ROOT / "configs/progan/celeba_hq1024.yaml"), "--trainer.logger=false"])
    described = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (described["generator_params"], described["discriminator_params"]) == (23_079_115, 23_087_249)
    table = {4: (6_556_163, 6_561_793), 8: (11_275_779, 11_281_409), 16: (15_995_395, 16_001_025),
             32: (20_715_011, 20_720_641), 64: (22_484_227, 22_489_857), 128: (22_926_467, 22_932_097),
             256: (23_036_995, 23_042_625), 512: (23_064_611, 23_070_241), 1024: (23_071_507, 23_077_137)}
    for resolution, (g, d) in table.items():  # reference/progan.md §2.8: 23.1M at 1024 (paper Table 2)
        assert described["generator_params_by_resolution"][str(resolution)] == g
        assert described["discriminator_params_by_resolution"][str(resolution)] == d


class StageRecorder(StopAt):
    def __init__(self, kimg):
        super().__init__(kimg=kimg)
        self.seen, self.optimizer = [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        images, _ = batch
        self.seen.append((pl_module.images_seen, *pl_module.stage(), images.shape[-1], len(images)))
        opt_g, opt_d = trainer.optimizers
        self.optimizer.append((opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"], len(opt_g.state)))


def test_progressive_fit_grows_through_two_switches_on_digits():
    model = ProGAN(**TINY)
    recorder = StageRecorder(kimg=0.32)
    grow = ProGrowth(stabilize_kimg=0.064, fade_kimg=0.064, batch_sizes={4: 16, 8: 8, 16: 4}, lrates={8: 0.002})
    trainer = make_trainer(grow, EMA(decay=0.9), recorder)
    trainer.fit(model, digits(batch_size=8))
    resolutions = [r for _, r, _, _, _ in recorder.seen]
    assert resolutions[0] == 4 and resolutions[-1] == 16 and sorted(set(resolutions)) == [4, 8, 16]
    for shown, resolution, alpha, served, batch in recorder.seen:
        assert (resolution, alpha) == pytest.approx(grow.stage(shown))  # model stage follows images shown
        assert served == resolution and batch == {4: 16, 8: 8, 16: 4}[resolution]  # data at the same stage
    for (_, resolution, *_), (lr_g, lr_d, _) in zip(recorder.seen, recorder.optimizer):
        assert lr_g == lr_d == (0.002 if resolution == 8 else 0.001)  # per-resolution learning rates
    switches = [i for i in range(1, len(recorder.seen)) if recorder.seen[i][1:3] != recorder.seen[i - 1][1:3]
                and (recorder.seen[i][2] == 1.0 or recorder.seen[i][1] != recorder.seen[i - 1][1])]
    assert switches and all(recorder.optimizer[i][2] == 0 for i in switches)  # Adam state reset at stage changes
    assert recorder.optimizer[switches[0] - 1][2] > 0
    fading = [alpha for _, r, alpha, _, _ in recorder.seen if r == 8 and alpha < 1]
    assert fading == sorted(fading) and 0 < fading[0] < 0.5  # alpha rises from 0 (exact 0 is the last 4 px batch)
    assert model.generator_ema.stage() == model.stage() == (16, 1.0)
    assert model.sample(4, seed=0).shape == (4, 3, 16, 16)
    assert trainer.callback_metrics["loss/d_penalty"] > 0 and trainer.callback_metrics["progress/resolution"] == 16


def train(g_steps, ckpt_path=None, save_to=None):
    torch.manual_seed(0)
    model = ProGAN(**TINY)
    trainer = make_trainer(ProGrowth(stabilize_kimg=0.04, fade_kimg=0.08), EMA(decay=0.9), StopAt(g_steps=g_steps))
    trainer.fit(model, digits(batch_size=8), ckpt_path=ckpt_path)
    if save_to:
        trainer.save_checkpoint(save_to)
    return model


def test_a_run_resumed_in_the_middle_of_a_fade_continues_exactly(tmp_path):
    straight = train(20)
    half = train(8, save_to=tmp_path / "mid_fade.ckpt")
    assert half.stage()[0] == 8 and 0 < half.stage()[1] < 1  # interrupted mid-fade
    resumed = train(20, ckpt_path=tmp_path / "mid_fade.ckpt")
    assert resumed.stage() == straight.stage() and resumed.images_seen == straight.images_seen
    expected = straight.state_dict()
    for name, value in resumed.state_dict().items():  # G, D, EMA G, stage buffers
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name


def test_progrowth_refuses_models_that_cannot_grow():
    with pytest.raises(TypeError, match="needs a progressive model"):
        make_trainer(ProGrowth(), StopAt(g_steps=1)).fit(SAGAN(resolution=16, z_dim=16, ch=8, num_classes=10), digits())
    with pytest.raises(ValueError, match="start_resolution must be a power of two"):
        ProGrowth(start_resolution=6)


@pytest.mark.parametrize("loss,precision", [("wgan", "bf16-mixed"), ("hinge", "32-true")])
def test_progan_trains_with_either_loss_and_under_bf16_autocast(loss, precision):
    model = ProGAN(**{**TINY, "resolution": 8}, loss=loss)
    trainer = make_trainer(ProGrowth(stabilize_kimg=0.016, fade_kimg=0.016), StopAt(g_steps=6), precision=precision)
    trainer.fit(model, digits(batch_size=8, resolution=8))
    assert model.g_steps == 6 and model.skipped_steps == 0 and model.stage()[0] == 8
    assert torch.isfinite(trainer.callback_metrics["loss/d_penalty"])


def test_digits_quality_waits_for_the_full_resolution():
    from callbacks import DigitsQuality

    quality, model = DigitsQuality(), ProGAN(**TINY)
    model.set_stage(8, 0.5)
    assert not quality.ready(model)
    model.set_stage(16, 0.2)
    assert quality.ready(model) and quality.ready(SAGAN(resolution=16, z_dim=16, ch=8, num_classes=10))
