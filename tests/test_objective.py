"""The training objective: adversarial losses, regularisers (phases, weights, lazy intervals), the augmentation
slot, and objectives built from Python or from plain data."""
import pytest
import torch

from callbacks import StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN, BigGAN, ProGAN
from lit_gans.objective import (Augment, Drift, GradientPenalty, LeastSquares, Objective, Orthogonal, R1,
                                adversarial_loss)


class Linear(torch.nn.Module):
    """D(x) = <w, x> per sample: the input gradient of every sample is w, so penalties are known in closed form."""

    def __init__(self, shape=(3, 4, 4)):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(shape))

    def forward(self, x, y=None):
        return (x * self.w).sum(dim=(1, 2, 3))


class Module:
    """The parts of a GAN an objective reads."""

    def __init__(self, discriminator, d_steps=0, g_steps=0):
        self.discriminator, self.generator = discriminator, None
        self.d_steps, self.g_steps, self.d_micro, self.seed, self.compile_networks = d_steps, g_steps, 0, 0, False
        self.device = torch.device("cpu")

    def rank_layout(self):
        return 0, 1

    def grad_scaler(self):
        return None


def test_least_squares_loss_on_known_logits():
    logits = torch.tensor([1.0, 3.0])
    loss = adversarial_loss("ls")
    assert isinstance(loss, LeastSquares)
    assert loss.d_real(logits).item() == pytest.approx((0 + 4) / 2 / 2)
    assert loss.d_fake(logits).item() == pytest.approx((1 + 9) / 2 / 2)
    assert loss.g(logits).item() == pytest.approx((0 + 4) / 2 / 2)
    with pytest.raises(ValueError, match=r"unknown loss 'hing'; choose one of \('hinge', 'ns', 'wgan', 'ls'\)"):
        adversarial_loss("hing")


def test_r1_and_drift_equal_their_closed_forms_and_reach_d_weights():
    D = Linear()
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    objective = Objective("wgan", [R1(gamma=0.4), Drift(0.01)])
    loss, logs = objective.discriminator_loss(Module(D), real, None, fake, None)
    logits_real, logits_fake = D(real), D(fake)
    r1 = 0.4 / 2 * D.w.square().sum()  # gamma / 2 * ||grad_x D||^2 with grad_x D = w for every sample
    drift = 0.01 * logits_real.square().mean()
    assert logs["loss/r1"].item() == pytest.approx(r1.item(), rel=1e-5)
    assert logs["loss/drift"].item() == pytest.approx(drift.item(), rel=1e-5)
    assert logs["loss/d_penalty"].item() == pytest.approx((r1 + drift).item(), rel=1e-5)
    expected = logits_fake.mean() - logits_real.mean() + r1 + drift
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    grad, = torch.autograd.grad(loss, D.w)  # R1 is differentiable w.r.t. D's weights (double backward)
    reference, = torch.autograd.grad(expected, D.w)
    assert torch.allclose(grad, reference, rtol=1e-4, atol=1e-6)


def test_lazy_regularisers_run_every_interval_steps_with_the_weight_times_the_interval():
    D = Linear()
    real, fake = torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4)
    objective = Objective("hinge", [R1(gamma=1.0, interval=4)])
    penalties = []
    for step in range(9):
        loss, logs = objective.discriminator_loss(Module(D, d_steps=step), real, None, fake, None)
        penalties.append(float(logs["loss/d_penalty"]) if "loss/d_penalty" in logs else None)
    due = [i for i, p in enumerate(penalties) if p is not None]
    assert due == [0, 4, 8]
    assert penalties[0] == pytest.approx(4 * 0.5 * float(D.w.square().sum()), rel=1e-5)  # gain = interval
    assert objective.terms("D", 4) and not objective.terms("D", 5) and not objective.terms("G", 0)
    with pytest.raises(ValueError, match="interval must be at least 1"):
        R1(interval=0)


def test_regulariser_declarations():
    assert [(r.network, r.phase) for r in (R1(), Drift(), GradientPenalty(), Orthogonal())] == [
        ("D", "d_real"), ("D", "d_real"), ("D", "d"), ("G", "g")]
    assert Orthogonal().analytic and not R1().analytic
    assert R1(gamma=0.2, interval=16).config() == {"class_path": "lit_gans.objective.regularizers.R1",
                                                   "init_args": {"gamma": 0.2, "interval": 16}}


def test_orthogonal_regularisation_exempts_what_the_network_names():
    model = BigGAN(resolution=16, z_dim=48, ch=8, num_classes=10, shared_dim=16, attn_res=8, ortho_reg=1e-3)
    exempt = model.generator.ortho_exempt
    regularised = {id(p) for p in Orthogonal.parameters_of(model.generator)}
    for name, p in model.generator.named_parameters():
        assert (id(p) in regularised) == (p.ndim >= 2 and not name.startswith(exempt)), name
    assert any(name.startswith("shared.") for name, _ in model.generator.named_parameters())


class Recording(Augment):
    """Multiplies by `factor` and records, per call, the batch size and whether the images carry G's graph."""

    def __init__(self, factor: float = 1.0):
        super().__init__()
        self.factor = factor
        self.calls = []

    def forward(self, images, draws=None):
        self.calls.append((len(images), images.requires_grad))
        return images * self.factor


def test_the_augmentation_sees_reals_and_fakes_in_both_steps_and_carries_g_gradient(tiny_sagan_kwargs):
    augment = Recording()
    model = SAGAN(**tiny_sagan_kwargs, augment=augment)
    make_trainer(StopAt(g_steps=1)).fit(model, digits(batch_size=8))
    # D step: 8 reals and 8 fakes (one D forward of both), fakes without G's graph; G step: 8 fakes with G's graph
    assert augment.calls == [(8, False), (8, False), (8, True)]

    progan = ProGAN(resolution=8, z_dim=16, fmap_base=64, fmap_max=16, augment=Recording())
    make_trainer(StopAt(g_steps=1)).fit(progan, digits(batch_size=4, resolution=8))
    calls = progan.objective.augment.calls  # minibatch stddev: reals and fakes in separate forwards, GP too
    assert calls[:2] == [(4, False), (4, False)] and calls[-1] == (4, True) and len(calls) == 4


def test_the_generator_learns_only_through_the_augmentation(tiny_sagan_kwargs):
    """A transform that blanks every image D sees leaves G nothing to learn from: its gradient is zero."""
    for factor, moves in ((0.0, False), (1.0, True)):
        model = SAGAN(**tiny_sagan_kwargs, augment=Recording(factor))
        before = {k: v.clone() for k, v in model.generator.state_dict().items()}
        make_trainer(StopAt(g_steps=1)).fit(model, digits())
        params = dict(model.generator.named_parameters())
        changed = any(not torch.equal(before[name], p) for name, p in params.items())
        assert changed == moves, factor


def test_identity_augmentation_and_explicit_regularisers_change_nothing(tiny_sagan_kwargs):
    """The default objective equals one built explicitly from the same parts: same weights after training."""
    torch.manual_seed(0)
    plain = SAGAN(**tiny_sagan_kwargs)
    torch.manual_seed(0)
    explicit = SAGAN(**tiny_sagan_kwargs, augment=Augment(), regularizers=[R1(gamma=0.0)])
    for model in (plain, explicit):
        make_trainer(StopAt(g_steps=2)).fit(model, digits())
    for (name, a), b in zip(plain.state_dict().items(), explicit.state_dict().values()):
        assert torch.equal(a, b), name


def test_regularisers_from_python_are_checkpointed_as_plain_data_and_rebuilt(tiny_sagan_kwargs, tmp_path):
    model = SAGAN(**tiny_sagan_kwargs, regularizers=[R1(gamma=0.5, interval=2)])
    trainer = make_trainer(StopAt(g_steps=2))
    trainer.fit(model, digits())
    assert "loss/r1" in trainer.callback_metrics
    trainer.save_checkpoint(tmp_path / "r1.ckpt")
    checkpoint = torch.load(tmp_path / "r1.ckpt", weights_only=True)  # no pickled objects
    assert checkpoint["hyper_parameters"]["regularizers"] == [R1(0.5, 2).config()]
    loaded = SAGAN.load_from_checkpoint(tmp_path / "r1.ckpt")
    (r1,) = loaded.objective.regularizers
    assert isinstance(r1, R1) and (r1.gamma, r1.interval) == (0.5, 2)
    assert loaded.g_steps == 2
