"""Fine-tuning with init_from: a new run starts from a checkpoint's weights, re-initialises what follows the number
of classes, freezes D's first blocks (FreezeD) and can give the loaded layers their own learning rate."""
import pytest
import torch
import pytorch_lightning as pl

from conftest import TINY_SAGAN, digits, make_trainer
from lit_gans import SAGAN
from lit_gans.finetune import owner, read_initial_weights


class AtTrainStart(pl.Callback):
    """Copies of the model's state when training starts (after init_from has loaded) and of its optimizers."""

    def on_train_start(self, trainer, pl_module):
        self.state = {k: v.clone() for k, v in pl_module.state_dict().items()}
        self.lrs = [[group["lr"] for group in opt.param_groups] for opt in trainer.optimizers]


@pytest.fixture
def ten_class_checkpoint(tmp_path):
    model = SAGAN(**TINY_SAGAN)
    trainer = make_trainer(max_steps=4)
    trainer.fit(model, datamodule=digits())
    path = tmp_path / "ten.ckpt"
    trainer.save_checkpoint(path)
    return path, torch.load(path, weights_only=True)["state_dict"]


def test_fine_tune_ten_classes_to_five_with_frozen_d_blocks(ten_class_checkpoint):
    path, trained = ten_class_checkpoint
    model = SAGAN(**{**TINY_SAGAN, "num_classes": 5}, init_from=str(path), freeze_d=2, init_lr_scale=0.1)
    start = AtTrainStart()
    make_trainer(start, max_steps=6).fit(model, datamodule=digits(classes=[5, 6, 7, 8, 9]))
    final = model.state_dict()
    class_layers = [k for k in final if k.startswith(("generator.", "discriminator.embed"))
                    and final[k].dim() and final[k].shape[0] == 5 and trained[k].shape[0] == 10]
    assert class_layers and any(k.startswith("discriminator.embed") for k in class_layers)
    # training starts from the checkpoint, except the class layers, which start fresh
    fresh = {owner(k) for k in class_layers}
    loaded = [k for k in trained if k in final and trained[k].shape == final[k].shape and owner(k) not in fresh]
    assert len(loaded) > 0.8 * len(trained)
    assert all(torch.equal(start.state[k], trained[k]) for k in loaded)
    # FreezeD: D's first two blocks never move; its later blocks and G do
    frozen = [k for k in final if k.startswith(("discriminator.blocks.0.", "discriminator.blocks.1."))]
    assert frozen and all(torch.equal(final[k], trained[k]) for k in frozen)
    later = [k for k in final if k.startswith("discriminator.blocks.2.") and k.endswith("original")]
    assert later and any(not torch.equal(final[k], trained[k]) for k in later)
    assert not torch.equal(final["generator.linear.parametrizations.weight.original"],
                           trained["generator.linear.parametrizations.weight.original"])
    # separate learning rates: the fresh layers at lr, the loaded ones at 0.1 lr; fresh counters
    assert start.lrs == [[model.lr_g, 0.1 * model.lr_g], [model.lr_d, 0.1 * model.lr_d]]
    assert model.g_steps == 3 and all(torch.isfinite(v) for v in model._logs.values())


def test_resume_restores_the_run_instead_of_init_from(ten_class_checkpoint, tmp_path):
    path, _ = ten_class_checkpoint
    model = SAGAN(**TINY_SAGAN, init_from=str(path), init_lr_scale=0.1)
    trainer = make_trainer(max_steps=2)
    trainer.fit(model, datamodule=digits())
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    path.unlink()  # the init checkpoint is gone: resuming must not need it, not even for the parameter groups
    resumed = SAGAN(**TINY_SAGAN, init_from=str(path), init_lr_scale=0.1)
    start = AtTrainStart()
    make_trainer(start, max_steps=4).fit(resumed, datamodule=digits(), ckpt_path=tmp_path / "run.ckpt")
    assert resumed.g_steps == 2 and start.lrs == [[model.lr_g * 0.1], [model.lr_d * 0.1]]


def test_init_from_checkpoint_of_another_architecture_lists_the_tensors(ten_class_checkpoint):
    path, _ = ten_class_checkpoint
    with pytest.raises(ValueError, match=r"tensors of another shape: generator\.linear"):
        read_initial_weights(SAGAN(**{**TINY_SAGAN, "ch": 16}), path)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        read_initial_weights(SAGAN(**TINY_SAGAN), "missing.ckpt")
    with pytest.raises(ValueError, match="freeze_d must lie in"):
        model = SAGAN(**TINY_SAGAN, freeze_d=99)
        make_trainer(max_steps=1).fit(model, datamodule=digits())
