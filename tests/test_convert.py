"""Converters of released weights: the converted model gives the original code's images, checkpoints round-trip,
and bad files are refused with a message naming the file and what was expected."""
import json
import shutil

import pytest
import torch

from conftest import ROOT, digits, make_trainer
from benchmarks.convert_biggan_deep import write_random_release
from lit_gans import BigGANDeep
from lit_gans.cli import main
from lit_gans.convert import convert
from lit_gans.convert.checkpoint import converted_checkpoint, save_atomically
from lit_gans.convert.gan_zoo import ZooConfig
from lit_gans.layers.truncation_stats import blend

pytorch_pretrained_biggan = pytest.importorskip("pytorch_pretrained_biggan")

SMALL = dict(output_dim=128, z_dim=16, class_embed_dim=16, channel_width=8, num_classes=10)


def released_biggan_deep(folder, **config):
    """The package's BigGAN-deep at small width with random weights, written as a release (folder/pytorch_model.bin
    + config.json)."""
    return write_random_release(folder, **{**SMALL, **config})


@pytest.fixture
def release(tmp_path):
    reference = released_biggan_deep(tmp_path / "biggan-deep")
    return reference, tmp_path / "biggan-deep" / "pytorch_model.bin"


def test_blend_weighs_the_lower_row_by_the_fraction():
    """The package's blend, read literally: at 0.405 the row of 0.42 weighs 3x the row of 0.40; on the grid one row."""
    table = torch.arange(51, dtype=torch.float64)[:, None] * torch.ones(1, 2)
    assert torch.allclose(blend(table, 0.405), 0.25 * table[20] + 0.75 * table[21])
    assert torch.equal(blend(table, 0.5), table[25]) and torch.equal(blend(table, 1.0), table[50])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        blend(table, 1.5)


@pytest.mark.parametrize("truncation", [0.02, 0.3, 0.405, 0.7, 0.93, 1.0])
def test_biggan_deep_gives_the_package_images(release, truncation):
    """model.sample(n, y, truncation, seed) equals the package's BigGAN(z, one_hot(y), truncation) for the same z."""
    reference, weights = release
    model = BigGANDeep.load_from_checkpoint(convert("pytorch-pretrained-biggan", str(weights), "deep.ckpt"),
                                            map_location="cpu")
    y = torch.tensor([0, 3, 7, 9, 9, 1])
    images = model.sample(6, y=y, truncation=truncation, seed=5)
    z, labels = model.sample_inputs(6, y=y, truncation=truncation, seed=5)
    assert z.abs().max() <= 2 * truncation + 1e-6 and z.std() > 0.4 * truncation  # t * truncnorm(-2, 2)
    with torch.no_grad():
        expected = reference(z, torch.eye(10)[labels], truncation)
    assert images.shape == (6, 3, 128, 128)
    assert (images - expected).abs().max() <= 1e-4
    assert expected.std() > 0.05  # the comparison is not between near-constant images


def test_truncation_statistics_change_the_images(release):
    """The tables matter: the same z at neighbouring truncations gives different images, so the comparison above
    would catch a wrong blend."""
    _, weights = release
    model = BigGANDeep.load_from_checkpoint(convert("pytorch-pretrained-biggan", str(weights), "deep.ckpt"),
                                            map_location="cpu")
    z, y = torch.randn(4, 16).clamp(-0.8, 0.8), torch.arange(4)
    assert (model.generate(z, y, truncation=0.40) - model.generate(z, y, truncation=0.42)).abs().max() > 1e-2


def test_converted_checkpoint_round_trips_and_has_no_discriminator(release):
    _, weights = release
    path = convert("pytorch-pretrained-biggan", str(weights), "deep.ckpt")
    checkpoint = torch.load(path, weights_only=True)
    assert not any(k.startswith("discriminator.") for k in checkpoint["state_dict"])
    assert checkpoint["lit_gans"]["converted"]["networks"] == ["generator", "generator_ema"]
    assert checkpoint["hyper_parameters"]["truncation_stats"] == 51
    assert checkpoint["hyper_parameters"]["truncation_style"] == "scale"
    model = BigGANDeep.load_from_checkpoint(path, map_location="cpu")
    again = save_atomically(converted_checkpoint(model, ("generator", "generator_ema"),
                                                 checkpoint["lit_gans"]["converted"]), "again.ckpt")
    reloaded = torch.load(again, weights_only=True)
    assert reloaded["state_dict"].keys() == checkpoint["state_dict"].keys()
    assert all(torch.equal(reloaded["state_dict"][k], v) for k, v in checkpoint["state_dict"].items())
    assert reloaded["hyper_parameters"].items() >= checkpoint["hyper_parameters"].items()  # plus explicit defaults


def test_converted_generator_cannot_resume_training(release):
    """Only the generator was released: `fit --ckpt_path` on it says so and points to init_from."""
    _, weights = release
    path = convert("pytorch-pretrained-biggan", str(weights), "deep.ckpt")
    model = BigGANDeep.load_from_checkpoint(path, map_location="cpu")
    with pytest.raises(ValueError, match="holds no discriminator.*init_from"):
        make_trainer(max_steps=1).fit(model, datamodule=digits(resolution=128, batch_size=2), ckpt_path=path)


def test_convert_and_sample_from_the_command_line(release):
    _, weights = release
    main(["convert", "--source=pytorch-pretrained-biggan", f"--weights={weights}", "--out=cli.ckpt"])
    main(["sample", "--ckpt_path=cli.ckpt", "--num=4", "--classes=[2, 5]", "--truncation=0.5", "--out=samples",
          "--trainer.logger=false"])
    from PIL import Image

    assert Image.open("samples/grid.png").size[0] > 128
    main(["interpolate", "--ckpt_path=cli.ckpt", "--rows=2", "--frames=3", "--video=none", "--out=pictures",
          "--trainer.logger=false"])
    strip = Image.open("pictures/truncation.png")  # thresholds 0.2 ... 1.0: the tabulated range
    assert strip.size[0] > 5 * 128 and Image.open("pictures/class.png").size[1] > 2 * 128


def test_bad_weight_files_are_refused_with_the_reason(release, tmp_path):
    _, weights = release
    folder = weights.parent
    text = folder / "notes.bin"
    text.write_text("not weights")
    (folder / "config.json").rename(folder / "config.json.bak")
    with pytest.raises(FileNotFoundError, match="config.json"):
        convert("pytorch-pretrained-biggan", str(weights), "x.ckpt")
    (folder / "config.json.bak").rename(folder / "config.json")
    with pytest.raises(ValueError, match=f"{text}.*pytorch_model.bin of pytorch-pretrained-biggan"):
        convert("pytorch-pretrained-biggan", str(text), "x.ckpt")
    truncated = folder / "truncated.bin"
    truncated.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.bin.*truncated or corrupt"):
        convert("pytorch-pretrained-biggan", str(truncated), "x.ckpt")
    with pytest.raises(ValueError, match="holds a 128 px generator, not 256 px"):
        convert("pytorch-pretrained-biggan", str(weights), "x.ckpt", resolution=256)
    with pytest.raises(ValueError, match="unknown source"):
        convert("biggan-tf", str(weights), "x.ckpt")
    state = torch.load(weights, weights_only=True)
    del state["generator.gen_z.weight_v"], state["generator.layers.3.bn_2.running_vars"]
    torch.save(state, weights)
    with pytest.raises(ValueError, match="2 missing keys: generator.gen_z.weight_v, generator.layers.3.bn_2.running_vars"):
        convert("pytorch-pretrained-biggan", str(weights), "x.ckpt")
    assert not list(tmp_path.glob("x.ckpt")) and not list(tmp_path.glob(".partial*"))  # nothing half-written


def test_config_of_another_resolution_is_refused(tmp_path):
    """Weights of the 128 px generator with the config.json of the 256 px one."""
    released_biggan_deep(tmp_path / "r")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN256 as big
    (tmp_path / "r" / "config.json").write_text(json.dumps({**config, "output_dim": 256, "layers": big.layers}))
    with pytest.raises(ValueError, match="holds 11 generator layers.*256 px generator with 13"):
        convert("pytorch-pretrained-biggan", str(tmp_path / "r" / "pytorch_model.bin"), "x.ckpt")


def test_fine_tune_the_converted_generator_on_five_digits(release):
    """init_from a converted BigGAN-deep: G's body is the release, its class embedding and D start fresh, the
    statistics tables stay behind (the new run keeps running statistics), and training runs with finite losses."""
    from test_finetune import AtTrainStart

    _, weights = release
    path = convert("pytorch-pretrained-biggan", str(weights), "deep.ckpt")
    released = torch.load(path, weights_only=True)["state_dict"]
    model = BigGANDeep(resolution=128, z_dim=16, ch=8, num_classes=5, shared_dim=16, bn_eps=1e-4, sn_eps=1e-4,
                       init_from=str(path))
    fresh_d = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    start = AtTrainStart()
    make_trainer(start, max_steps=3).fit(model, datamodule=digits(resolution=128, batch_size=2, classes=[0, 1, 2, 3, 4]))
    body = [k for k in released if k.startswith("generator.") and "shared" not in k and "truncation_" not in k]
    assert body and all(torch.equal(start.state[k], released[k]) for k in body)
    assert start.state["generator.shared.weight"].shape == (5, 16)
    assert all(torch.equal(start.state["discriminator." + k], v) for k, v in fresh_d.items())
    assert model.g_steps >= 1 and all(torch.isfinite(v) for v in model._logs.values())


# ------------------------------------------------------------------------------------------------ BigGAN-PyTorch
# tests/fixtures/biggan_pytorch/ was written once by BigGAN-PyTorch's own code (commit 98459431) with
# tests/fixtures/make_biggan_pytorch.py: a 64 px BigGAN with the released model's flags at channel width 4,
# trained 3 iterations, saved by its utils.save_weights, with the eval-mode outputs of G, G_ema and D.
BIGGAN_PYTORCH = ROOT / "tests" / "fixtures" / "biggan_pytorch"


@pytest.fixture
def biggan_pytorch_checkpoint(tmp_path):
    folder = tmp_path / "bgp"
    shutil.copytree(BIGGAN_PYTORCH, folder)
    return folder


def test_biggan_pytorch_gives_its_images_and_logits(biggan_pytorch_checkpoint):
    from lit_gans import BigGAN

    run = torch.load(biggan_pytorch_checkpoint / "state_dict.pth", weights_only=True)  # train.py also stores the
    run["config"] |= {"G_activation": torch.nn.ReLU(inplace=True), "D_activation": torch.nn.ReLU()}  # activations
    torch.save(run, biggan_pytorch_checkpoint / "state_dict.pth")
    path = convert("biggan-pytorch", str(biggan_pytorch_checkpoint / "G.pth"), "bgp.ckpt")
    model = BigGAN.load_from_checkpoint(path, map_location="cpu")
    reference = torch.load(BIGGAN_PYTORCH / "reference.pt", weights_only=True)
    z, y = reference["z"], reference["y"]
    assert (model.generate(z, y, model.generator) - reference["G"]).abs().max() <= 1e-4
    assert (model.generate(z, y, model.generator_ema) - reference["G_ema"]).abs().max() <= 1e-4
    assert not torch.allclose(reference["G"], reference["G_ema"], atol=1e-3)  # two different generators
    with torch.no_grad():
        logits = model.discriminator.eval()(reference["x"], y)
    assert (logits - reference["D"]).abs().max() <= 1e-4 and reference["D"].std() > 0.1


def test_biggan_pytorch_run_continues_with_its_optimizers_and_counters(biggan_pytorch_checkpoint):
    """fit --ckpt_path on the converted checkpoint continues the run: its generator steps and Adam moments."""
    from lit_gans import BigGAN

    path = convert("biggan-pytorch", str(biggan_pytorch_checkpoint), "bgp.ckpt")
    checkpoint = torch.load(path, weights_only=True)
    their_g = torch.load(biggan_pytorch_checkpoint / "G_optim.pth", weights_only=True)
    assert checkpoint["lit_gans"]["g_steps"] == 3 and checkpoint["lit_gans"]["images_seen"] == 12
    model = BigGAN.load_from_checkpoint(path, map_location="cpu")
    names = [name for name, _ in model.generator.named_parameters()]
    first = names.index("linear.parametrizations.weight.original")  # their parameter 1 (after shared.weight)
    assert torch.equal(checkpoint["optimizer_states"][0]["state"][first]["exp_avg"], their_g["state"][1]["exp_avg"])
    trainer = make_trainer(max_steps=4)
    trainer.fit(model, datamodule=digits(resolution=64, batch_size=4, classes=[0, 1, 2, 3, 4]), ckpt_path=path)
    assert model.g_steps == 5 and int(trainer.optimizers[1].state_dict()["state"][0]["step"]) == 5
    assert all(torch.isfinite(v) for v in model._logs.values())


def test_biggan_pytorch_bad_checkpoints_are_refused(biggan_pytorch_checkpoint):
    folder = biggan_pytorch_checkpoint
    with pytest.raises(ValueError, match="names the G.pth"):
        convert("biggan-pytorch", str(folder / "D.pth"), "x.ckpt")
    run = torch.load(folder / "state_dict.pth", weights_only=True)
    torch.save({**run, "config": {**run["config"], "num_G_SVs": 2, "G_attn": "32_64"}}, folder / "state_dict.pth")
    with pytest.raises(ValueError, match="num_G_SVs=2, G_attn='32_64'"):
        convert("biggan-pytorch", str(folder / "G.pth"), "x.ckpt")
    torch.save({**run, "config": {**run["config"], "G_ch": 8}}, folder / "state_dict.pth")
    with pytest.raises(ValueError, match="G.pth do not fit the network that state_dict.pth describes"):
        convert("biggan-pytorch", str(folder / "G.pth"), "x.ckpt")
    torch.save(run, folder / "state_dict.pth")
    with pytest.raises(ValueError, match="describes a 64 px model, not 128 px"):
        convert("biggan-pytorch", str(folder / "G.pth"), "x.ckpt", resolution=128)
    state = torch.load(folder / "D.pth", weights_only=True)
    del state["embed.u0"]
    torch.save(state, folder / "D.pth")
    with pytest.raises(ValueError, match="D.pth does not match .*1 missing keys: embed.u0"):
        convert("biggan-pytorch", str(folder / "G.pth"), "x.ckpt")
    (folder / "state_dict.pth").unlink()
    with pytest.raises(FileNotFoundError, match="state_dict.pth does not exist"):
        convert("biggan-pytorch", str(folder / "G.pth"), "x.ckpt")


# ---------------------------------------------------------------------------------------------- pytorch_GAN_zoo
# tests/fixtures/gan_zoo_pgan/ was written once by pytorch_GAN_zoo's own code (commit b75dee4) with
# tests/fixtures/make_gan_zoo_pgan.py: its ProgressiveGAN grown to 32 px at widths 16, 16, 8, 4, trained 3 steps,
# saved by its BaseGAN.save at fade-in alpha 0.4, with the outputs of netG, avgG and netD computed in float64.
GAN_ZOO = ROOT / "tests" / "fixtures" / "gan_zoo_pgan"


@pytest.mark.parametrize("double", [False, True])
def test_gan_zoo_pgan_gives_its_images_and_scores(double):
    """Both fade-in stages and both minibatch-stddev groupings (8 = 2 groups of 4; 6: one group of 6); in float64
    the outputs agree to the float32 rounding of the stored reference, so the mapping itself is exact."""
    from lit_gans import ProGAN

    model = ProGAN.load_from_checkpoint(convert("gan-zoo-pgan", str(GAN_ZOO / "pgan_s3.pth"), "zoo.ckpt"),
                                        map_location="cpu")
    assert model.stage() == (32, pytest.approx(0.6))  # the zoo's alpha 0.4 (its alpha counts down)
    model = model.double() if double else model
    tolerance = 1e-6 if double else 1e-4
    reference = torch.load(GAN_ZOO / "reference.pt", weights_only=True)
    for key, expected in reference.items():
        model.set_stage(32, 1 - float(key.split("_")[0][len("alpha"):]))
        z, x = (expected[k].to(torch.float64 if double else torch.float32) for k in ("z", "x"))
        with torch.no_grad():
            assert (model.generator.eval()(z) - expected["netG"]).abs().max() <= tolerance, key
            assert (model.generator_ema.eval()(z) - expected["avgG"]).abs().max() <= tolerance, key
            assert (model.discriminator(x) - expected["netD"]).abs().max() <= tolerance, key
    assert not torch.allclose(reference["alpha0.0_n8"]["netG"], reference["alpha0.0_n8"]["avgG"], atol=1e-2)


def test_gan_zoo_checkpoint_fine_tunes_but_does_not_resume():
    """No optimizer state was saved by the zoo: fit --ckpt_path refuses with a pointer to init_from, which works."""
    from lit_gans import ProGAN

    path = convert("gan-zoo-pgan", str(GAN_ZOO / "pgan_s3.pth"), "zoo.ckpt")
    model = ProGAN.load_from_checkpoint(path, map_location="cpu")
    data = digits(resolution=32, batch_size=4)
    with pytest.raises(ValueError, match="holds no optimizer states.*init_from"):
        make_trainer(max_steps=2).fit(model, datamodule=data, ckpt_path=path)
    hparams = {k: v for k, v in torch.load(path, weights_only=True)["hyper_parameters"].items() if not k.startswith("_")}
    tuned = ProGAN(**{**hparams, "init_from": str(path), "freeze_d": 0})
    tuned.set_stage(32, 1.0)
    make_trainer(max_steps=4).fit(tuned, datamodule=data)
    assert tuned.g_steps == 2 and all(torch.isfinite(v) for v in tuned._logs.values())


@pytest.mark.parametrize("source", ["biggan-pytorch", "gan-zoo-pgan"])
def test_converted_checkpoints_round_trip(source, biggan_pytorch_checkpoint):
    from lit_gans import BigGAN, ProGAN

    weights = biggan_pytorch_checkpoint / "G.pth" if source == "biggan-pytorch" else GAN_ZOO / "pgan_s3.pth"
    path = convert(source, str(weights), "c.ckpt")
    checkpoint = torch.load(path, weights_only=True)
    model = {"biggan-pytorch": BigGAN, "gan-zoo-pgan": ProGAN}[source].load_from_checkpoint(path, map_location="cpu")
    networks = tuple(checkpoint["lit_gans"]["converted"]["networks"])
    again = torch.load(save_atomically(converted_checkpoint(model, networks, checkpoint["lit_gans"]["converted"]),
                                       "again.ckpt"), weights_only=True)
    assert again["state_dict"].keys() == checkpoint["state_dict"].keys()
    assert all(torch.equal(again["state_dict"][k], v) for k, v in checkpoint["state_dict"].items())


def test_gan_zoo_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(ValueError, match="pgan.pth.*not a PyTorch weights file|pgan.pth.*cannot be read"):
        (tmp_path / "pgan.pth").write_bytes(b"\x80\x04K\x01.")  # a pickle of the int 1
        convert("gan-zoo-pgan", str(tmp_path / "pgan.pth"), "x.ckpt")
    with torch.serialization.safe_globals([(ZooConfig, "models.utils.config.BaseConfig")]):
        checkpoint = torch.load(GAN_ZOO / "pgan_s3.pth", weights_only=True)
    config = checkpoint["config"] = dict(vars(checkpoint["config"]))  # re-saved as a plain dict, which it also reads
    del checkpoint["netD"]["decisionLayer.module.bias"]
    torch.save(checkpoint, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="missing.pth does not match the netD.*1 missing keys: decisionLayer.bias"):
        convert("gan-zoo-pgan", str(tmp_path / "missing.pth"), "x.ckpt")
    config["lossCriterion"], config["depthOtherScales"] = "DCGAN", [16, 8, 4]
    torch.save(checkpoint, tmp_path / "dcgan.pth")
    with pytest.raises(ValueError, match="lossCriterion='DCGAN'"):
        convert("gan-zoo-pgan", str(tmp_path / "dcgan.pth"), "x.ckpt")
    config["lossCriterion"], config["depthOtherScales"] = "WGANGP", [16, 12, 4]
    torch.save(checkpoint, tmp_path / "widths.pth")
    with pytest.raises(ValueError, match=r"channel widths \[16, 16, 12, 4\]"):
        convert("gan-zoo-pgan", str(tmp_path / "widths.pth"), "x.ckpt")
    with pytest.raises(ValueError, match="holds a 32 px PGAN, not 64 px"):
        convert("gan-zoo-pgan", str(GAN_ZOO / "pgan_s3.pth"), "x.ckpt", resolution=64)
    shutil.copy(GAN_ZOO / "pgan_s3.pth", tmp_path / "pgan_s3-0123abcd.pth")  # a name carrying another hash
    with pytest.raises(ValueError, match="corrupt or incomplete: its SHA-256 starts with .*its name says 0123abcd"):
        convert("gan-zoo-pgan", str(tmp_path / "pgan_s3-0123abcd.pth"), "x.ckpt")
