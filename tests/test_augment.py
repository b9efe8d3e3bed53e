"""Data-efficient training: DiffAugment, ADA (transforms, adaptation of p, state), LeCam, bCR, zCR; augmentations
that do not leak (reals and fakes alike, in both steps; p = 0 equals no augmentation); exact resume."""
import math

import pytest
import torch

from callbacks import EMA, StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN
from lit_gans.objective import (ADA, Augment, BalancedConsistency, DiffAugment, Draws, LatentConsistency,
                                LatentRepulsion, LeCam, Objective, R1, StepBatch)
from lit_gans.objective.diffaugment import cutout, translate


def images(n=6, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ------------------------------------------------------------------------------------------------ DiffAugment

def test_diffaugment_translation_shifts_whole_pixels_and_fills_with_zeros():
    x = images(64)
    out = translate(x, Draws((0, 1)), ratio=0.125)  # up to 2 px at 16 px
    for original, moved in zip(x, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(moved, torch.roll(original, (dy, dx), (1, 2)) * shifted_mask(dy, dx))]
        assert len(matches) == 1
    assert not torch.equal(out, x)


def shifted_mask(dy, dx, size=16):
    mask = torch.zeros(size, size)
    mask[max(dy, 0):size + min(dy, 0), max(dx, 0):size + min(dx, 0)] = 1
    return mask


def test_diffaugment_cutout_zeroes_one_clipped_square_per_image():
    x = images(200).abs() + 0.1  # no zeros of its own
    out = cutout(x, Draws((0, 2)), ratio=0.5)
    zeroed = (out == 0).all(dim=1)  # (N, H, W)
    for mask in zeroed:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert len(rows) <= 8 and len(cols) <= 8  # an 8 px square, clipped at the borders
        assert mask.sum() == len(rows) * len(cols)  # a rectangle
    assert (zeroed.flatten(1).sum(1) == 64).float().mean() > 0.2  # often whole
    assert torch.equal(out[~zeroed.unsqueeze(1).expand_as(out)], x[~zeroed.unsqueeze(1).expand_as(x)])


def test_diffaugment_is_keyed_differentiable_and_validated():
    augment = DiffAugment()
    x = images().requires_grad_(True)
    a, b = augment(x, Draws((0, 5, 1))), augment(x, Draws((0, 5, 1)))
    assert torch.equal(a, b) and not torch.equal(a, augment(x, Draws((0, 5, 2))))
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(DiffAugment(policy="")(x), x)
    with pytest.raises(ValueError, match="unknown policy"):
        DiffAugment(policy="color,flip")


def test_draws_are_the_global_batch_sliced_by_rank():
    whole = Draws((0, 9), rank=0, world=1).uniform(8, 2)
    halves = [Draws((0, 9), rank=r, world=2).uniform(4, 2) for r in (0, 1)]
    assert torch.equal(halves[0], whole[0::2]) and torch.equal(halves[1], whole[1::2])


# ------------------------------------------------------------------------------------------------ ADA

def test_ada_at_p_zero_is_the_identity_and_at_p_one_transforms_every_image():
    x = images(32)
    assert ADA(p=0.0)(x, Draws((1,))) is x
    out = ADA(p=1.0)(x, Draws((1,)))
    assert out.shape == x.shape and ((out - x).abs().flatten(1).amax(1) > 1e-3).all()


def test_ada_integer_translation_and_flips_are_exact_pixel_moves():
    x = images(16)
    ada = ADA(ops="xflip,xint", p=1.0)
    matrices = ada.geometric(16, (16, 16), Draws((3,)), "cpu")
    assert torch.equal(matrices[:, :2, 2], matrices[:, :2, 2].round())  # whole pixels
    assert torch.allclose(matrices[:, :2, :2].abs(), torch.eye(2).expand(16, 2, 2))
    out = ada(x, Draws((3,)))
    for original, moved, m in zip(x, out, matrices):
        flipped = bool(m[0, 0] < 0)
        if flipped:
            original = original.flip(2)
        tx, ty = int(m[0, 2]) - 15 * flipped, int(m[1, 2])  # a flip about the centre adds 15 = 2 x 7.5
        h = slice(max(ty, 0), 16 + min(ty, 0))
        w = slice(max(tx, 0), 16 + min(tx, 0))
        src_h, src_w = slice(max(-ty, 0), 16 + min(-ty, 0)), slice(max(-tx, 0), 16 + min(-tx, 0))
        assert torch.allclose(moved[:, h, w], original[:, src_h, src_w], atol=1e-5)


def test_ada_colour_ops_leave_grey_alone_and_rotate_hue_about_the_luma_axis():
    grey = torch.zeros(8, 3, 4, 4)  # mid-grey: on the luma axis, fixed by contrast, lumaflip, hue, saturation
    assert torch.allclose(ADA(ops="contrast,lumaflip,hue,saturation", p=1.0)(grey, Draws((2,))), grey, atol=1e-6)
    m = ADA(ops="hue", p=1.0).color(64, Draws((4,)), "cpu")
    rgb = m[:, :3, :3]
    assert torch.allclose(rgb @ rgb.transpose(1, 2), torch.eye(3).expand(64, 3, 3), atol=1e-5)  # rotations
    assert torch.allclose(rgb @ torch.ones(3) / math.sqrt(3), torch.ones(64, 3) / math.sqrt(3), atol=1e-5)


def test_ada_adapts_p_at_the_paper_speed_within_its_bounds():
    ada = ADA(p=0.0, target=0.6, speed_kimg=500, interval=4)
    for _ in range(8):  # D calls every real real: r_t = 1 > 0.6
        logs = ada.observe(torch.ones(64), 64)
    assert float(ada.p) == pytest.approx(2 * 4 * 64 / 500_000)  # two adjustments of 256 images each
    assert float(logs["augment/r_t"]) == 1.0
    for _ in range(8):  # every real called fake: p goes back down, and not below 0
        ada.observe(-torch.ones(64), 64)
    assert float(ada.p) == 0.0
    fixed = ADA(p=0.3, target=None)
    fixed.observe(torch.ones(64), 64)
    assert float(fixed.p) == pytest.approx(0.3)
    capped = ADA(p=0.5, max_p=0.5, interval=1)
    capped.observe(torch.ones(4), 4)
    assert float(capped.p) == 0.5
    with pytest.raises(ValueError, match="unknown ops"):
        ADA(ops="xflip,blur")


def test_r1_differentiates_through_ada_twice(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs, augment=ADA(p=0.8), regularizers=[R1(gamma=1.0)])
    trainer = make_trainer(StopAt(g_steps=2))
    trainer.fit(model, digits())
    assert math.isfinite(float(trainer.callback_metrics["loss/r1"])) and float(trainer.callback_metrics["loss/r1"]) > 0


# ------------------------------------------------------------------------------------------------ no leaks

class Watched(Augment):
    """Wraps an augmentation; records per call the batch size, whether the images carry G's graph, and the
    fraction of images it changed."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls = inner, []

    def forward(self, images, draws=None):
        out = self.inner(images, draws)
        changed = ((out - images).abs().flatten(1).amax(1) > 1e-6).float().mean().item()
        self.calls.append((len(images), images.requires_grad, changed))
        return out


@pytest.mark.parametrize("inner", [ADA(p=0.5, target=None), DiffAugment("translation,cutout")])
def test_reals_and_fakes_go_through_the_same_augmentation_in_both_steps(tiny_sagan_kwargs, inner):
    watched = Watched(inner)
    model = SAGAN(**tiny_sagan_kwargs, augment=watched)
    make_trainer(StopAt(g_steps=20)).fit(model, digits(batch_size=16))
    calls = watched.calls
    assert len(calls) == 3 * 20
    reals, fakes, g_fakes = calls[0::3], calls[1::3], calls[2::3]  # per step: D reals, D fakes, G fakes
    assert not any(c[1] for c in reals + fakes) and all(c[1] for c in g_fakes)
    rates = [sum(c[2] for c in group) / len(group) for group in (reals, fakes, g_fakes)]
    expected = 1 - 0.5 ** 12 if isinstance(inner, ADA) else 1.0  # ADA: some op fires unless all 12 miss
    for rate in rates:
        assert rate == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("augment", [ADA(p=0.0, target=None), DiffAugment(policy="")])
def test_augmentation_that_does_nothing_leaves_training_bit_for_bit_unchanged(tiny_sagan_kwargs, augment):
    torch.manual_seed(0)
    plain = SAGAN(**tiny_sagan_kwargs)
    torch.manual_seed(0)
    augmented = SAGAN(**tiny_sagan_kwargs, augment=augment)
    for model in (plain, augmented):
        make_trainer(StopAt(g_steps=3)).fit(model, digits())
    expected = plain.state_dict()
    for name, value in augmented.state_dict().items():
        if not name.startswith("objective."):
            assert torch.equal(value, expected[name]), name


# ------------------------------------------------------------------------------------------------ LeCam, bCR, zCR

class Module:
    def __init__(self, discriminator=None, generator=None, d_steps=0):
        self.discriminator, self.generator, self.d_steps, self.d_micro, self.g_steps = discriminator, generator, d_steps, 0, 0
        self.seed, self.compile_networks, self.device = 0, False, torch.device("cpu")

    def rank_layout(self):
        return 0, 1

    def grad_scaler(self):
        return None


def at_iteration(g_steps: int, n_dis: int = 5) -> Module:
    module = Module(d_steps=g_steps * n_dis)
    module.g_steps = g_steps
    return module


def test_lecam_anchors_follow_the_batches_then_their_moving_average_and_the_penalty_matches_eq_4():
    lecam = LeCam(weight=0.3, decay=0.9, start=1)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    batch = StepBatch(at_iteration(0), None, None, None, fake, None, None, real)
    assert float(lecam.penalty(batch)) == 0.0  # before `start`: anchors only
    assert torch.equal(lecam.anchors, torch.tensor([2.0, -1.0]))
    real2, fake2 = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
    batch = StepBatch(at_iteration(2), None, None, None, fake2, None, None, real2)
    value = float(lecam.penalty(batch))
    a_r, a_f = 0.9 * 2.0 + 0.1 * 0.0, 0.9 * -1.0 + 0.1 * 1.0
    assert lecam.anchors.tolist() == pytest.approx([a_r, a_f])
    expected = max(0.0 - a_f, 0) ** 2 + max(a_r - 1.0, 0) ** 2
    assert value == pytest.approx(expected)


def test_lecam_starts_after_start_training_iterations_not_d_steps():
    """StudioGAN's CIFAR-10 recipe: start 1000 with 5 D steps per iteration. The anchors average from iteration
    1000 and the term applies from iteration 1001 (worker.py: `current_step >= / > lecam_ema_start_iter`)."""
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    for g_steps, decays, applies in ((200, False, False), (999, False, False), (1000, True, False), (1001, True, True)):
        lecam = LeCam(weight=0.3, decay=0.5, start=1000)
        lecam.anchors.fill_(10.0)
        value = float(lecam.penalty(StepBatch(at_iteration(g_steps), None, None, None, fake, None, None, real)))
        assert (lecam.anchors[0].item() == 6.0) == decays and (lecam.anchors[0].item() == 2.0) == (not decays)
        assert (value > 0) == applies, g_steps  # at G step 200 (D step 1000) nothing yet


class MeanD(torch.nn.Module):
    """D(x) = mean pixel value: unchanged by flips and reflect-padded shifts of a constant image."""

    def forward(self, x, y=None):
        return x.mean(dim=(1, 2, 3)) * 7


def test_bcr_is_zero_for_transform_invariant_images_and_weighs_reals_and_fakes():
    D = MeanD()
    module = Module(D)
    constant = torch.full((4, 3, 8, 8), 0.3)
    objective = Objective("hinge", [BalancedConsistency(real_weight=10, fake_weight=10)])
    _, logs = objective.discriminator_loss(module, constant, None, constant.clone(), None)
    assert float(logs["loss/bcr"]) == pytest.approx(0.0, abs=1e-10)
    ramp = torch.linspace(-1, 1, 8).view(1, 1, 1, 8).expand(4, 3, 8, 8).contiguous()  # changed by shifts
    values = {}
    for weights in ((10, 0), (0, 10), (10, 10)):
        objective = Objective("hinge", [BalancedConsistency(*weights)])
        _, logs = objective.discriminator_loss(module, ramp, None, constant, None)
        values[weights] = float(logs["loss/bcr"])
    assert values[(10, 0)] > 0 and values[(0, 10)] == pytest.approx(0.0, abs=1e-10)
    assert values[(10, 10)] == pytest.approx(values[(10, 0)])


class LinearG(torch.nn.Module):
    def __init__(self, z_dim=4):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(z_dim, 3 * 8 * 8))

    def forward(self, z, y=None):
        return (z @ self.w).view(-1, 3, 8, 8)


def test_zcr_terms_vanish_at_radius_zero_and_grow_with_the_radius_squared():
    G, D = LinearG(), MeanD()
    z = torch.randn(6, 4)
    module = Module(D, G)
    fake = G(z).detach()

    def terms(radius):
        d_term, g_term = LatentConsistency(weight=20, radius=radius), LatentRepulsion(weight=0.5, radius=radius)
        d_batch = StepBatch(module, lambda x, y: D(x, y), fake, None, D(fake), z=z)
        g_batch = StepBatch(module, lambda x, y: D(x, y), G(z), None, D(fake), z=z)
        return float(d_term.penalty(d_batch)), float(g_term.penalty(g_batch))

    assert terms(0.0) == (0.0, 0.0)
    (d1, g1), (d2, g2) = terms(0.1), terms(0.2)  # G and D linear: both terms are quadratic in the radius
    assert d1 > 0 and g1 < 0
    assert d2 / d1 == pytest.approx(4.0, rel=1e-4) and g2 / g1 == pytest.approx(4.0, rel=1e-4)


def test_zcr_in_training_logs_both_terms_with_their_signs(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs, regularizers=[LatentConsistency(), LatentRepulsion()])
    trainer = make_trainer(StopAt(g_steps=2))
    trainer.fit(model, digits())
    assert float(trainer.callback_metrics["loss/zcr_d"]) > 0 and float(trainer.callback_metrics["loss/zcr_g"]) < 0


# ------------------------------------------------------------------------------------------------ state

def everything(kwargs):
    return SAGAN(**kwargs, augment=ADA(p=0.1, interval=1, speed_kimg=1),
                 regularizers=[R1(gamma=0.1, interval=2), LeCam(start=3), BalancedConsistency(),
                               LatentConsistency(), LatentRepulsion()])


def test_augmentation_and_regularisers_resume_exactly(tiny_sagan_kwargs, tmp_path):
    def train(g_steps, ckpt_path=None, save_to=None):
        torch.manual_seed(0)
        model = everything(tiny_sagan_kwargs)
        trainer = make_trainer(EMA(decay=0.9, start=2), StopAt(g_steps=g_steps))
        trainer.fit(model, digits(batch_size=8), ckpt_path=ckpt_path)
        if save_to:
            trainer.save_checkpoint(save_to)
        return model

    straight = train(8)
    train(4, save_to=tmp_path / "half.ckpt")
    resumed = train(8, ckpt_path=tmp_path / "half.ckpt")
    ada = resumed.objective.augment
    assert float(ada.p) != 0.1  # p adapted, and the resumed run continued from the saved p
    expected = straight.state_dict()
    for name, value in resumed.state_dict().items():  # includes ADA's p and counters, LeCam's anchors
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name
    checkpoint = torch.load(tmp_path / "half.ckpt", weights_only=True)  # plain data only
    assert checkpoint["hyper_parameters"]["augment"]["class_path"] == "lit_gans.objective.ada.ADA"
    assert "objective.augment.p" in checkpoint["state_dict"] and "objective.regularizers.1.anchors" in checkpoint["state_dict"]
