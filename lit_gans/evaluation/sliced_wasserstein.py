"""Sliced Wasserstein distance between Laplacian-pyramid patches (Karras et al. 2018, ProGAN, Sec. 5 and App. D).

The protocol of the paper's code (tkarras/progressive_growing_of_gans, metrics/sliced_wasserstein.py):
- uint8 images as float [0, 255]; a Laplacian pyramid with the 5x5 binomial kernel / 256 and mirrored borders,
  one level per resolution from the image size down to 16 px (128 px: 128, 64, 32, 16); every level is band-pass
  except the 16 px one, which is the low-pass residual;
- from every image, 128 patches of 7 x 7 x 3 per level at uniformly drawn centres at least 3 px from the border;
- each set's descriptors normalised per colour channel by their own mean and standard deviation (so a global
  per-channel offset or gain of one set is invisible);
- the distance: 4 repeats of 128 random unit directions; project both sets, sort, mean absolute difference;
  the mean over repeats. Both sets must have the same size. Reported x 10^3 per level and averaged over levels,
  from 16,384 images per set.
Memory: the descriptors of one set take images x 128 x 147 x 4 bytes per level (1.2 GB at 16,384 images).
"""
import zlib

import numpy as np
import torch
import torch.nn.functional as F

MIN_RESOLUTION = 16


def binomial_kernel(channels: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(channels, 1, 5, 5) the 5x5 binomial filter [1, 4, 6, 4, 1]^T [1, 4, 6, 4, 1] / 256, one per channel."""
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=dtype, device=device)
    kernel = torch.outer(taps, taps) / 256
    return kernel.expand(channels, 1, 5, 5)


def blur(images: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """(B, C, H, W) filtered by the binomial kernel x `gain` with mirrored borders (d c b | a b c d | c b a)."""
    channels = images.shape[1]
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, binomial_kernel(channels, images.dtype, images.device) * gain, groups=channels)


def pyramid_down(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/2, W/2): blur, then every other pixel."""
    return blur(images)[:, :, ::2, ::2]


def pyramid_up(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W): zeros between the pixels, then blur with gain 4."""
    batch, channels, height, width = images.shape
    upsampled = images.new_zeros(batch, channels, 2 * height, 2 * width)
    upsampled[:, :, ::2, ::2] = images
    return blur(upsampled, gain=4.0)


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """(B, C, H, W) -> `levels` tensors from H down to H / 2^(levels - 1): band-pass levels, then the low-pass."""
    pyramid = [images]
    for _ in range(1, levels):
        pyramid.append(pyramid_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyramid_up(pyramid[-1])
    return pyramid


def pyramid_resolutions(resolution: int) -> list[int]:
    """The levels' resolutions: `resolution`, halved down to 16 px."""
    if resolution < MIN_RESOLUTION:
        raise ValueError(f"SWD needs images of at least {MIN_RESOLUTION} px, got {resolution}")
    resolutions = []
    while resolution >= MIN_RESOLUTION:
        resolutions.append(resolution)
        resolution //= 2
    return resolutions


def patch_centres(count: int, height: int, width: int, half: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(count,) y and (count,) x drawn uniformly from [half, size - half), from a generator seeded by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randint(half, height - half, (count,), generator=generator),
            torch.randint(half, width - half, (count,), generator=generator))


def patch_descriptors(level: torch.Tensor, per_image: int = 128, size: int = 7, seeds: list[int] | None = None) -> torch.Tensor:
    """(B, C, H, W) -> (B * per_image, C, size, size) patches at centres drawn uniformly, `size // 2` px away from
    every border; the patches of image b are rows b * per_image ... (b + 1) * per_image - 1, their centres drawn
    from seeds[b] (default b), so an image's patches do not depend on the batch it came in."""
    batch, channels, height, width = level.shape
    half = size // 2
    centres = [patch_centres(per_image, height, width, half, seed) for seed in (seeds or range(batch))]
    ys = torch.cat([y for y, _ in centres]).to(level.device)
    xs = torch.cat([x for _, x in centres]).to(level.device)
    offsets = torch.arange(-half, half + 1, device=level.device)
    image = torch.arange(batch, device=level.device).repeat_interleave(per_image)
    rows = (ys[:, None] + offsets)[:, :, None]  # (count, size, 1)
    columns = (xs[:, None] + offsets)[:, None, :]  # (count, 1, size)
    return level.permute(0, 2, 3, 1)[image[:, None, None], rows, columns].permute(0, 3, 1, 2)


def normalise_descriptors(descriptors: torch.Tensor) -> torch.Tensor:
    """(N, C, s, s) -> (N, C s s), each channel shifted and scaled to mean 0 and standard deviation 1 over the set."""
    mean = descriptors.mean(dim=(0, 2, 3), keepdim=True)
    std = descriptors.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return ((descriptors - mean) / std).flatten(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, repeats: int = 4, directions: int = 128,
                       generator: torch.Generator | None = None) -> float:
    """a, b (N, D) -> the mean over `repeats` x `directions` random unit directions of the 1-D Wasserstein-1
    distance of the projections (sorted, mean absolute difference). The sets must have the same size N."""
    if a.shape != b.shape:
        raise ValueError(f"the sliced Wasserstein distance needs sets of the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    results = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=generator, dtype=torch.float64).to(a.device)
        dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(a.dtype)
        projected_a = (a @ dirs).sort(dim=0).values
        projected_b = (b @ dirs).sort(dim=0).values
        results.append((projected_a - projected_b).abs().double().mean().item())
    return sum(results) / len(results)


class PatchSet:
    """The patch descriptors of one set of images, per pyramid level, collected batch by batch.

    Args:
        resolution: the images' size (levels from it down to 16 px).
        per_image, size: patches per image and level, and their side (128 and 7 in the paper).
        seed: seeds the patch centres: an image takes its centres at level l from a generator seeded by (seed, l,
            a hash of the image's pixels), so the same images give the same descriptors in any order, batching or
            number of processes.
    """

    def __init__(self, resolution: int, per_image: int = 128, size: int = 7, seed: int = 0):
        self.resolutions = pyramid_resolutions(resolution)
        self.per_image, self.size = per_image, size
        self.seed = seed
        self.levels: list[list[torch.Tensor]] = [[] for _ in self.resolutions]
        self.num_images = 0

    def add(self, images: torch.Tensor) -> None:
        """uint8 images (B, 3, H, W) at the set's resolution."""
        if images.shape[-1] != self.resolutions[0]:
            raise ValueError(f"SWD patches expected {self.resolutions[0]} px images, got {images.shape[-1]} px")
        pyramid = laplacian_pyramid(images.float(), len(self.resolutions))
        hashes = [zlib.crc32(image.numpy().tobytes()) for image in images.cpu()]
        for number, (level, stored) in enumerate(zip(pyramid, self.levels)):
            seeds = [int(np.random.SeedSequence([self.seed, number, h]).generate_state(1)[0]) for h in hashes]
            stored.append(patch_descriptors(level, self.per_image, self.size, seeds))
        self.num_images += len(images)

    def gathered(self, limit: int | None = None) -> "PatchSet":
        """The union of every rank's patches (rank by rank), cut to the first `limit` images."""
        from lit_gans.evaluation.feature_set import gather_rows

        union = PatchSet(self.resolutions[0], self.per_image, self.size, self.seed)
        total = None
        for stored, target in zip(self.levels, union.levels):
            rows = gather_rows(torch.cat(stored))
            total = len(rows) // self.per_image
            target.append(rows[: (limit or total) * self.per_image])
        union.num_images = min(limit or total, total)
        return union

    def descriptors(self) -> list[torch.Tensor]:
        """Per level (N, 3 size^2), normalised over the set."""
        return [normalise_descriptors(torch.cat(stored)) for stored in self.levels]


def swd(real: PatchSet, fake: PatchSet, repeats: int = 4, directions: int = 128, seed: int = 0) -> dict[str, float]:
    """{"<resolution>": SWD x 10^3 of that level, ..., "avg": their mean} between two patch sets of equal size."""
    if real.num_images != fake.num_images:
        raise ValueError(f"SWD compares sets of equal size; got {real.num_images} real and {fake.num_images} "
                         "generated images")
    generator = torch.Generator().manual_seed(seed)
    values = {str(resolution): 1e3 * sliced_wasserstein(a, b, repeats, directions, generator)
              for resolution, a, b in zip(real.resolutions, real.descriptors(), fake.descriptors())}
    values["avg"] = sum(values.values()) / len(values)
    return values
