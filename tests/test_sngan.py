"""SN-GAN (Miyato et al. 2018): the paper's ResNet models, their parameter counts, and training on the digits."""
import pytest
import torch

from callbacks import StopAt
from conftest import digits, make_trainer
from lit_gans import SNGAN
from lit_gans.networks import SNGANDiscriminator, SNGANGenerator
from lit_gans.parameters import count_parameters


@pytest.mark.parametrize("resolution, num_classes, g, d", [
    (32, 0, 4_276_739, 1_053_825),   # CIFAR-10, unconditional (reference/augment-metrics-weights.md §9)
    (32, 10, 4_304_387, 1_055_105),  # CIFAR-10, 10 classes: StudioGAN's logged counts
    (48, 0, 4_878_083, 10_141_441),  # STL-10 48 px
])
def test_parameter_counts_match_the_reference(resolution, num_classes, g, d):
    assert count_parameters(SNGANGenerator(resolution, num_classes=num_classes)) == g
    assert count_parameters(SNGANDiscriminator(resolution, num_classes=num_classes)) == d


def test_networks_map_shapes_and_only_d_is_spectrally_normalised():
    from torch.nn.utils import parametrize

    G, D = SNGANGenerator(32, z_dim=16, ch=16, num_classes=10), SNGANDiscriminator(32, ch=8, num_classes=10)
    y = torch.randint(10, (3,))
    images = G(torch.randn(3, 16), y)
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1
    assert D(images, y).shape == (3,)
    assert not any(parametrize.is_parametrized(m) for m in G.modules())
    assert all(parametrize.is_parametrized(m, "weight") for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    with pytest.raises(ValueError, match=r"SNGAN supports resolutions \(32, 48\)"):
        SNGANGenerator(64)


def test_the_paper_recipe_is_the_default():
    model = SNGAN()
    assert (model.loss, model.n_dis, model.lr_g, model.lr_d, model.betas_g, model.betas_d) == (
        "hinge", 5, 2e-4, 2e-4, (0.0, 0.9), (0.0, 0.9))


def test_trains_on_the_digits():
    model = SNGAN(resolution=32, z_dim=16, g_ch=16, d_ch=8, num_classes=10, n_dis=2)
    make_trainer(StopAt(g_steps=2)).fit(model, digits(resolution=32))
    assert (model.g_steps, model.d_steps) == (2, 4)
    assert model.sample(4, y=3, seed=0).shape == (4, 3, 32, 32)


def test_the_digits_config_trains(tmp_path):
    from conftest import ROOT
    from lit_gans.cli import main

    cli = main(["fit", "--config", str(ROOT / "configs/sngan/digits.yaml"), "--model.init_args.g_ch=16",
                "--model.init_args.d_ch=8", "--trainer.logger=false", "--trainer.enable_progress_bar=false",
                "--trainer.callbacks=[]", '--trainer.callbacks+={"class_path": "callbacks.StopAt", "init_args": {"g_steps": 2}}',
                f"--trainer.default_root_dir={tmp_path}"])
    assert isinstance(cli.model, SNGAN) and (cli.model.resolution, cli.model.num_classes) == (32, 10)
    assert cli.model.g_steps == 2


def test_the_cifar10_recipe_decays_both_rates_linearly_to_zero_over_its_run():
    import yaml

    from callbacks import LRDecay
    from conftest import ROOT

    recipe = yaml.safe_load((ROOT / "configs/sngan/cifar32.yaml").read_text())
    callbacks = {c["class_path"].rsplit(".", 1)[1]: c.get("init_args", {}) for c in recipe["trainer"]["callbacks"]}
    decay, end = LRDecay(**callbacks["LRDecay"]), callbacks["StopAt"]["g_steps"]
    assert (decay.unit, end) == ("g_steps", 50_000)
    assert [decay.scale(s) for s in (0, end / 2, end)] == pytest.approx([1.0, 0.5, 0.0])
