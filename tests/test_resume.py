import pytest
import torch

from callbacks import EMA, StopAt
from conftest import digits, make_trainer
from lit_gans import SAGAN, BigGAN

TINY_BIGGAN = dict(resolution=16, z_dim=18, ch=8, num_classes=10, shared_dim=8, attn_res=8, accumulate=2,
                   ortho_reg=1e-3)


def train(kwargs, g_steps, ckpt_path=None, save_to=None, n_dis=1, model_class=SAGAN):
    torch.manual_seed(0)
    model = model_class(**kwargs, n_dis=n_dis)
    trainer = make_trainer(EMA(decay=0.9, start=2), StopAt(g_steps=g_steps))
    trainer.fit(model, digits(batch_size=8), ckpt_path=ckpt_path)
    if save_to:
        trainer.save_checkpoint(save_to)
    return model, trainer


@pytest.mark.parametrize("n_dis", [1, 2])
def test_interrupted_run_resumes_exactly(tiny_sagan_kwargs, tmp_path, n_dis):
    straight, _ = train(tiny_sagan_kwargs, 8, n_dis=n_dis)
    train(tiny_sagan_kwargs, 4, save_to=tmp_path / "half.ckpt", n_dis=n_dis)  # stops mid-epoch (179 batches/epoch)
    resumed, trainer = train(tiny_sagan_kwargs, 8, ckpt_path=tmp_path / "half.ckpt", n_dis=n_dis)

    for name in ("d_micro", "d_steps", "g_steps", "images_seen"):
        assert getattr(resumed, name) == getattr(straight, name), name
    expected = straight.state_dict()
    for name, value in resumed.state_dict().items():  # G, D, EMA G, spectral-norm vectors, BN statistics
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name
    opt_resumed = trainer.optimizers[0].state_dict()["state"]
    assert len(opt_resumed) > 0


def test_biggan_with_accumulation_and_ortho_reg_resumes_exactly(tmp_path):
    straight, _ = train(TINY_BIGGAN, 6, n_dis=2, model_class=BigGAN)
    train(TINY_BIGGAN, 3, save_to=tmp_path / "half.ckpt", n_dis=2, model_class=BigGAN)
    resumed, _ = train(TINY_BIGGAN, 6, ckpt_path=tmp_path / "half.ckpt", n_dis=2, model_class=BigGAN)
    assert resumed.d_micro == straight.d_micro == 6 * 2 * 2
    expected = straight.state_dict()
    for name, value in resumed.state_dict().items():
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name


def test_checkpoint_from_another_model_is_refused(tiny_sagan_kwargs, tmp_path):
    _, trainer = train(tiny_sagan_kwargs, 1, save_to=tmp_path / "a.ckpt")
    checkpoint = torch.load(tmp_path / "a.ckpt", weights_only=True)
    checkpoint["lit_gans"]["model"] = "ProGAN"
    torch.save(checkpoint, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="holds a ProGAN model and cannot be loaded into SAGAN"):
        train(tiny_sagan_kwargs, 2, ckpt_path=tmp_path / "other.ckpt")
    del checkpoint["lit_gans"]
    torch.save(checkpoint, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="not written by a lit-gans model"):
        train(tiny_sagan_kwargs, 2, ckpt_path=tmp_path / "foreign.ckpt")


def test_the_base_class_loads_any_lit_gans_checkpoint_as_its_model(tiny_sagan_kwargs, tmp_path):
    import io

    from lit_gans.convert.checkpoint import converted_checkpoint, save_atomically
    from lit_gans.gan import GAN

    trained, _ = train(tiny_sagan_kwargs, 2, save_to=tmp_path / "trained.ckpt")  # a plain Trainer's checkpoint
    converted = BigGAN(**TINY_BIGGAN)
    save_atomically(converted_checkpoint(converted, ("generator", "generator_ema"), {"source": "test"}),
                    tmp_path / "converted.ckpt")  # with the class path the CLI writes, and no D
    for path, expected in ((tmp_path / "trained.ckpt", trained), (tmp_path / "converted.ckpt", converted)):
        loaded = GAN.load_from_checkpoint(path, map_location="cpu")
        assert type(loaded) is type(expected)
        reference = expected.state_dict()
        assert all(torch.equal(loaded.state_dict()[k], reference[k]) for k in reference if k.startswith("generator"))
    with open(tmp_path / "trained.ckpt", "rb") as file:  # a file object is read twice: the class, then the model
        assert type(GAN.load_from_checkpoint(io.BytesIO(file.read()))) is SAGAN
    assert SAGAN.load_from_checkpoint(tmp_path / "trained.ckpt").g_steps == 2  # a subclass loads as before
    checkpoint = torch.load(tmp_path / "trained.ckpt", weights_only=True)
    checkpoint["lit_gans"]["model"] = "StyleGAN9"
    torch.save(checkpoint, tmp_path / "unknown.ckpt")
    with pytest.raises(ValueError, match="holds a StyleGAN9 model, which is not an imported lit-gans model class"):
        GAN.load_from_checkpoint(tmp_path / "unknown.ckpt")
    del checkpoint["lit_gans"]
    torch.save(checkpoint, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="not written by a lit-gans model"):
        GAN.load_from_checkpoint(tmp_path / "foreign.ckpt")


def test_g_trains_on_a_multiple_of_ds_batch_and_resumes_exactly(tiny_sagan_kwargs, tmp_path):
    """sngan_projection trains G on n_gen_samples 128 with a D batch of 64 (g_batch_multiple 2)."""
    kwargs = {**tiny_sagan_kwargs, "g_batch_multiple": 2}
    model = SAGAN(**kwargs)
    sizes = []
    model.generator.register_forward_hook(lambda module, args, output: sizes.append((module.training, len(output))))
    make_trainer(StopAt(g_steps=2)).fit(model, digits(batch_size=8))
    assert sizes and {n for _, n in sizes} == {8, 16}  # D's fakes 8, G's step 16
    assert model.describe()["batches"] == "D 1 step(s) per G step; G trains on 2x D's batch of fakes"
    straight, _ = train(kwargs, 6)
    train(kwargs, 3, save_to=tmp_path / "half.ckpt")
    resumed, _ = train(kwargs, 6, ckpt_path=tmp_path / "half.ckpt")
    expected = straight.state_dict()
    for name, value in resumed.state_dict().items():
        assert torch.allclose(value.float(), expected[name].float(), atol=1e-6), name
    with pytest.raises(ValueError, match="g_batch_multiple must be at least 1"):
        SAGAN(**{**kwargs, "g_batch_multiple": 0})
