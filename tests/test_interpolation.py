"""Pictures of the latent space: slerp, class interpolation, truncation strips, the `interpolate` command's sheets
and videos on a trained digits checkpoint, and what the end of training hands the tracker."""
import json

import numpy as np
import pytest
import torch
from pytorch_lightning.loggers import Logger

from conftest import digits, make_trainer
from lit_gans import SAGAN, BigGAN
from lit_gans.images import image_grid, to_uint8
from lit_gans.interpolation import class_interpolation, latent_interpolation, slerp, truncation_strip
from lit_gans.latents import seeded_generator, truncated_normal


def test_slerp_keeps_the_endpoints_and_the_norm():
    a, b = torch.randn(16), torch.randn(16)
    b = b / b.norm() * a.norm()
    path = slerp(a, b, torch.linspace(0, 1, 7))
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(7), rtol=1e-5)  # a great circle, unlike lerp
    assert torch.allclose(slerp(a, a, torch.tensor([0.3]))[0], a)


def test_latent_rows_end_in_the_samples_of_the_same_seed(tiny_sagan_kwargs):
    model = SAGAN(**tiny_sagan_kwargs)
    picture = latent_interpolation(model, rows=3, frames=5, classes=[2, 5], seed=3)
    ends = model.sample(6, y=torch.tensor([2, 2, 5, 5, 2, 2]), seed=3)
    assert picture.shape == (3, 5, 3, 16, 16)
    assert torch.allclose(picture[:, 0], ends[0::2], atol=1e-5) and torch.allclose(picture[:, -1], ends[1::2], atol=1e-5)
    assert (picture[:, 1] - picture[:, 0]).abs().max() > 1e-3  # the rows move


def test_class_interpolation_blends_the_shared_embedding_and_needs_one(tiny_sagan_kwargs):
    model = BigGAN(resolution=16, z_dim=18, ch=8, num_classes=10, attn_res=0)
    picture = class_interpolation(model, rows=2, frames=4, classes=[1, 7, 3, 8], seed=0)
    z, _ = model.sample_inputs(2, y=torch.tensor([1, 3]), seed=0)
    assert torch.allclose(picture[:, 0], model.generate(z, torch.tensor([1, 3])), atol=1e-5)
    assert torch.allclose(picture[:, -1], model.generate(z, torch.tensor([7, 8])), atol=1e-5)
    with pytest.raises(ValueError, match="pairs of classes"):
        class_interpolation(model, classes=[1, 7, 3])
    with pytest.raises(ValueError, match="shared class embedding .* per-class BatchNorm tables"):
        class_interpolation(SAGAN(**tiny_sagan_kwargs))


def test_truncation_strip_keeps_the_values_within_each_threshold(tiny_sagan_kwargs):
    loose = truncated_normal((4, 16), 2.0, seeded_generator(0, 2))
    tight = truncated_normal((4, 16), 0.5, seeded_generator(0, 2))
    inside = loose.abs() <= 0.5
    assert inside.any() and torch.equal(loose[inside], tight[inside]) and tight.abs().max() <= 0.5
    strip = truncation_strip(SAGAN(**tiny_sagan_kwargs), rows=2, thresholds=[0.5, 1.0, 2.0])
    assert strip.shape == (2, 3, 3, 16, 16)


def test_interpolate_command_writes_sheets_and_videos_of_a_trained_checkpoint(tmp_path, capsys):
    import imageio.v2 as imageio
    from torchvision.io import read_image

    from lit_gans.cli import main
    from test_cli import TINY, tiny_callbacks

    main(["fit", *TINY, *tiny_callbacks(tmp_path), f"--trainer.default_root_dir={tmp_path}"])
    checkpoint = tmp_path / "ckpt" / "last.ckpt"
    out = tmp_path / "pictures"
    main(["interpolate", f"--ckpt_path={checkpoint}", "--rows=3", "--frames=5", "--video_frames=7",
          "--classes=[2, 5]", "--seed=3", f"--out={out}", "--trainer.logger=false"])
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(written) == {"latent", "truncation"}  # SAGAN has no shared class embedding: no class picture
    assert sorted(p.name for p in out.iterdir()) == ["latent.mp4", "latent.png", "truncation.mp4", "truncation.png"]
    sheet = read_image(str(out / "latent.png"))
    assert sheet.shape == (3, 3 * 18 + 2, 5 * 18 + 2)  # 3 rows x 5 columns of 16 px images, 2 px apart
    reader = imageio.get_reader(out / "latent.mp4")
    frames = [frame for frame in reader]
    assert len(frames) == 7 and frames[0].shape == (18 + 2, 3 * 18 + 2, 3)

    model = SAGAN.load_from_checkpoint(checkpoint, map_location="cpu")
    ends = to_uint8(model.sample(6, y=torch.tensor([2, 2, 5, 5, 2, 2]), seed=3))
    cell = lambda row, column: sheet[:, 2 + 18 * row : 18 * (row + 1), 2 + 18 * column : 18 * (column + 1)]
    for row in range(3):
        assert (cell(row, 0).int() - ends[2 * row].int()).abs().max() <= 1
        assert (cell(row, 4).int() - ends[2 * row + 1].int()).abs().max() <= 1
    first = torch.from_numpy(np.ascontiguousarray(frames[0])).permute(2, 0, 1).int()
    assert (first - image_grid(model.sample(6, y=torch.tensor([2, 2, 5, 5, 2, 2]), seed=3)[0::2], nrow=3).int()).abs().float().mean() < 8  # lossy H.264

    main(["interpolate", f"--ckpt_path={checkpoint}", "--kinds=[truncation]", "--rows=2", "--video_frames=4",
          "--video=gif", f"--out={tmp_path / 'gif'}", "--trainer.logger=false"])
    assert len(imageio.mimread(tmp_path / "gif" / "truncation.gif")) == 4
    with pytest.raises(ValueError, match="class interpolation needs"):
        main(["interpolate", f"--ckpt_path={checkpoint}", "--kinds=[class]", "--trainer.logger=false"])


class ImageLogger(Logger):
    """Keeps the images and tables a tracker is handed."""

    name, version, experiment = "images", 0, None

    def __init__(self):
        super().__init__()
        self.images, self.tables = {}, {}

    def log_metrics(self, metrics, step=None):
        pass

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_image(self, key, images, step=None, **kwargs):
        self.images[key] = images

    def log_table(self, key, columns=None, data=None, **kwargs):
        self.tables[key] = (columns, data)


def test_end_of_training_logs_the_sheets_and_the_metrics_table(tiny_sagan_kwargs, tmp_path):
    from callbacks import ImageMetrics, Interpolations, StopAt
    from test_metrics import ChannelStats

    logger = ImageLogger()
    metrics = ImageMetrics(every_n_g_steps=2, num_samples=32, num_real=64, batch_size=16, kid_subsets=3,
                           kid_subset_size=16, metrics=["fid", "kid", "prc"])
    metrics.evaluator.extractor = ChannelStats()
    pictures = Interpolations(rows=2, frames=3)
    make_trainer(metrics, pictures, StopAt(g_steps=4), logger=logger, default_root_dir=tmp_path).fit(
        SAGAN(**tiny_sagan_kwargs), digits())
    assert set(logger.images) == {"interpolation/latent", "interpolation/truncation"}
    latent = logger.images["interpolation/latent"][0]
    assert latent.dtype == np.uint8 and latent.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
    assert pictures.written["latent"].is_file()
    columns, rows = logger.tables["metrics"]
    assert columns[:2] == ["g_step", "kimg"] and "metrics/precision" in columns and "metrics/fid" in columns
    assert [row[0] for row in rows] == [2, 4]
