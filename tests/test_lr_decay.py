import pytest
import pytorch_lightning as pl
import torch

from callbacks import LRDecay, StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN


def test_the_scale_falls_linearly_between_start_and_end_and_holds_outside():
    decay = LRDecay(start=10, end=30, final=0.2)
    assert [decay.scale(x) for x in (0, 10, 20, 30, 100)] == pytest.approx([1, 1, 0.6, 0.2, 0.2])
    assert LRDecay(0, 4, unit="g_steps").scale(1) == pytest.approx(0.75)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start=0, end=10, unit="epochs"), "unit must be one of"),
    (dict(start=5, end=5), "start < end"),
    (dict(start=0, end=10, final=1.5), "final is a fraction"),
])
def test_bad_schedules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRDecay(**kwargs)


class RateLog(pl.Callback):
    """After LRDecay has set them: (g_steps, kimg, G's rate, D's rate) at every batch."""

    def __init__(self):
        self.rows = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        opt_g, opt_d = trainer.optimizers
        self.rows.append((pl_module.g_steps, pl_module.images_seen / 1000, opt_g.param_groups[0]["lr"],
                          opt_d.param_groups[0]["lr"]))


@pytest.mark.parametrize("unit", ["g_steps", "kimg"])
def test_both_rates_follow_the_schedule_in_training(tiny_sagan_kwargs, unit):
    model = SAGAN(**tiny_sagan_kwargs, n_dis=2, lr_g=1e-3, lr_d=4e-3)
    decay = LRDecay(start=2, end=6, unit=unit, final=0.1) if unit == "g_steps" else LRDecay(0.016, 0.064, unit=unit)
    log = RateLog()
    make_trainer(decay, log, StopAt(g_steps=8)).fit(model, digits(batch_size=8))
    assert len(log.rows) == 16
    for g_steps, kimg, lr_g, lr_d in log.rows:
        scale = decay.scale(g_steps if unit == "g_steps" else kimg)
        assert lr_g == pytest.approx(1e-3 * scale) and lr_d == pytest.approx(4e-3 * scale)
    assert log.rows[0][2] == pytest.approx(1e-3) and log.rows[-1][2] < 0.5e-3  # it did decay


def test_a_resumed_run_continues_on_the_same_schedule(tiny_sagan_kwargs, tmp_path):
    def train(g_steps, ckpt_path=None, save_to=None):
        torch.manual_seed(0)
        model, log = SAGAN(**tiny_sagan_kwargs), RateLog()
        trainer = make_trainer(LRDecay(0, 8, unit="g_steps", final=0.25), log, StopAt(g_steps=g_steps))
        trainer.fit(model, digits(batch_size=8), ckpt_path=ckpt_path)
        if save_to:
            trainer.save_checkpoint(save_to)
        return model, log

    straight, straight_log = train(8)
    train(4, save_to=tmp_path / "half.ckpt")
    resumed, resumed_log = train(8, ckpt_path=tmp_path / "half.ckpt")
    flat = lambda rows: [value for row in rows for value in row]  # noqa: E731
    assert flat(resumed_log.rows) == pytest.approx(flat(straight_log.rows[4:]))  # resumed, not restarted
    expected = straight.state_dict()
    for name, value in resumed.state_dict().items():
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name
