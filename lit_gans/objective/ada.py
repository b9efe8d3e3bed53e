"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data"), the "bgc" pipeline: blit, geometric and colour transforms.

Each op is applied to each image independently with probability p (so at p < 1 D still sees every image
unaugmented with probability (1 - p)^12, and the augmentations do not leak into G; Sec. 2.2):
    xflip       mirror x with probability 1/2            rotate90    a multiple of 90 degrees, uniform
    xint        integer translation, U(-1/8, 1/8) of the size, rounded to pixels
    scale       isotropic, 2^N(0, 0.2^2)                 rotate      U(-180, 180) degrees, before and after aniso,
    aniso       (s, 1/s), s = 2^N(0, 0.2^2)                          each with 1 - sqrt(1 - p), so one or both with p
    xfrac       fractional translation, N(0, (1/8)^2) of the size
    brightness  + N(0, 0.2^2)                            contrast    x 2^N(0, 0.5^2)
    lumaflip    reflect through the luma plane w.p. 1/2  hue         rotate about the luma axis, U(-180, 180) degrees
    saturation  scale off the luma axis by 2^N(0, 1)
The geometric ops are composed into one affine matrix per image and executed once by kornia's `warp_affine`
(bilinear, reflection padding; differentiable twice, as R1 needs); ADA's own pipeline additionally up- and
downsamples around the warp with a wavelet filter against aliasing, which is omitted here. The colour ops are
composed into one 4 x 4 matrix per image acting on RGB in [-1, 1].

p adapts from the overfitting heuristic r_t = E[sign(D(real))] (over D's reals since the last adjustment, all
ranks): every `interval` D micro-batches, p += sign(r_t - target) * (images shown) / (speed_kimg * 1000), so p can
go from 0 to 1 in `speed_kimg` kimg; p is kept in [0, max_p]. With `target=None`, p stays fixed.
"""
import math

import torch
import torch.distributed as dist

from lit_gans.objective.augment import Augment, Draws

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
BGC = ",".join(GEOMETRIC + COLOR)
LUMA = torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3)  # the luma axis of ADA's colour ops


def _eye(n: int, size: int, device) -> torch.Tensor:
    return torch.eye(size, device=device).expand(n, size, size).clone()


def _translate(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(len(tx), 3, tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(len(sx), 3, sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(len(theta), 3, theta.device)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _axis_rotation(theta: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """(N, 4, 4): rotation by theta about the unit 3-vector `axis` (Rodrigues), homogeneous."""
    x, y, z = axis.tolist()
    cross = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=theta.device)
    outer = torch.outer(axis, axis).to(theta.device)
    c, s = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    m = _eye(len(theta), 4, theta.device)
    m[:, :3, :3] = c * torch.eye(3, device=theta.device) + s * cross + (1 - c) * outer
    return m


class ADA(Augment):
    """ADA's augmentation pipeline with adaptive probability p (a buffer, so checkpoints carry it and a resumed
    run continues with it).

    Args:
        ops: comma-separated subset of the pipeline (default: all twelve, "bgc"); oriented data such as digits may
            drop "xflip,rotate90,rotate".
        p: the initial probability.
        target: the r_t target of the adaptation (0.6 in the paper); None keeps p fixed.
        speed_kimg: kimg for p to move by 1 (500 in the paper).
        interval: D micro-batches between adjustments (4 in the paper).
        max_p: the largest p (1: the probabilities saturate; the paper sees leaks above about 0.8).
    """

    def __init__(self, ops: str = BGC, p: float = 0.0, target: float | None = 0.6, speed_kimg: float = 500.0,
                 interval: int = 4, max_p: float = 1.0):
        super().__init__()
        chosen = [op.strip() for op in ops.split(",") if op.strip()]
        unknown = [op for op in chosen if op not in GEOMETRIC + COLOR]
        if unknown:
            raise ValueError(f"ADA: unknown ops {unknown}; choose from {GEOMETRIC + COLOR}, comma-separated")
        if not 0 <= p <= max_p <= 1:
            raise ValueError(f"ADA: need 0 <= p <= max_p <= 1, got p={p}, max_p={max_p}")
        if target is not None and not -1 < target < 1:
            raise ValueError(f"ADA: target must lie in (-1, 1) (r_t is a mean of signs), got {target}")
        if speed_kimg <= 0 or interval < 1:
            raise ValueError(f"ADA: speed_kimg must be positive and interval at least 1, got {speed_kimg}, {interval}")
        self.ops, self.target, self.speed_kimg, self.interval, self.max_p = ops, target, speed_kimg, interval, max_p
        self.enabled = set(chosen)
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("r_t", torch.tensor(float("nan")))  # the r_t of the last adjustment
        self.register_buffer("signs", torch.zeros(2))  # sum of sign(D(real)), count, since the last adjustment
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))  # micro-batches since the last adjustment
        self.register_buffer("images", torch.zeros((), dtype=torch.long))  # real images (all ranks) since then

    # ------------------------------------------------------------------------------------------- adaptation

    @torch.no_grad()
    def observe(self, logits_real: torch.Tensor, num_images: int) -> dict[str, torch.Tensor]:
        if self.target is None:
            return {"augment/p": self.p.clone()}
        self.signs += torch.stack([logits_real.float().sign().sum(), torch.tensor(float(logits_real.numel()),
                                                                                  device=logits_real.device)])
        self.calls += 1
        self.images += num_images
        if int(self.calls) >= self.interval:
            signs = self.signs.clone()
            if dist.is_available() and dist.is_initialized():
                dist.all_reduce(signs)
            self.r_t.copy_(signs[0] / signs[1])
            step = torch.sign(self.r_t - self.target) * self.images.float() / (self.speed_kimg * 1000)
            self.p.copy_((self.p + step).clamp(0, self.max_p))
            self.signs.zero_()
            self.calls.zero_()
            self.images.zero_()
        return {"augment/p": self.p.clone(), "augment/r_t": self.r_t.clone()}

    # ------------------------------------------------------------------------------------------- transforms

    def _chance(self, draws: Draws, n: int, p: float, device) -> torch.Tensor:
        """(n,) bool: which images an op applies to."""
        return draws.uniform(n, device=device) < p

    def geometric(self, n: int, size: tuple[int, int], draws: Draws, device) -> torch.Tensor:
        """(n, 3, 3) forward affine maps in pixel coordinates about the image centre."""
        h, w = size
        p, one = float(self.p), torch.ones(n, device=device)
        m = _eye(n, 3, device)

        def maybe(op: str, chance: float = p) -> torch.Tensor:
            return self._chance(draws, n, chance, device) & (op in self.enabled)

        flip = maybe("xflip") & (draws.integers(n, 0, 2, device=device) == 1)
        m = _scale(torch.where(flip, -one, one), one) @ m
        quarter = torch.where(maybe("rotate90"), draws.integers(n, 0, 4, device=device), 0)
        m = _rotate(quarter * (math.pi / 2)) @ m
        shift = maybe("xint").unsqueeze(1) * torch.round(draws.uniform(n, 2, device=device, low=-0.125, high=0.125)
                                                         * torch.tensor([w, h], device=device))
        m = _translate(shift[:, 0], shift[:, 1]) @ m
        s = torch.where(maybe("scale"), 2 ** draws.normal(n, device=device, std=0.2), one)
        m = _scale(s, s) @ m
        p_rot = 1 - math.sqrt(1 - min(p, 1.0))
        m = _rotate(maybe("rotate", p_rot) * draws.uniform(n, device=device, low=-math.pi, high=math.pi)) @ m
        s = torch.where(maybe("aniso"), 2 ** draws.normal(n, device=device, std=0.2), one)
        m = _scale(s, 1 / s) @ m
        m = _rotate(maybe("rotate", p_rot) * draws.uniform(n, device=device, low=-math.pi, high=math.pi)) @ m
        shift = maybe("xfrac").unsqueeze(1) * draws.normal(n, 2, device=device, std=0.125) * torch.tensor([w, h], device=device)
        m = _translate(shift[:, 0], shift[:, 1]) @ m
        centre = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=device).expand(n, 2)
        return _translate(centre[:, 0], centre[:, 1]) @ m @ _translate(-centre[:, 0], -centre[:, 1])

    def color(self, n: int, draws: Draws, device) -> torch.Tensor:
        """(n, 4, 4) colour maps of homogeneous RGB."""
        p, one, luma = float(self.p), torch.ones(n, device=device), LUMA.to(device)
        outer = _eye(n, 4, device)
        outer[:, :3, :3] = torch.outer(luma, luma)
        m = _eye(n, 4, device)

        def maybe(op: str) -> torch.Tensor:
            return self._chance(draws, n, p, device) & (op in self.enabled)

        b = maybe("brightness") * draws.normal(n, device=device, std=0.2)
        shift = _eye(n, 4, device)
        shift[:, :3, 3] = b.unsqueeze(1)
        m = shift @ m
        c = torch.where(maybe("contrast"), 2 ** draws.normal(n, device=device, std=0.5), one)
        m = torch.diag_embed(torch.stack([c, c, c, one], dim=1)) @ m
        flip = maybe("lumaflip") & (draws.integers(n, 0, 2, device=device) == 1)
        householder = _eye(n, 4, device) - 2 * outer * flip.view(n, 1, 1)
        householder[:, 3, 3] = 1
        m = householder @ m
        theta = maybe("hue") * draws.uniform(n, device=device, low=-math.pi, high=math.pi)
        m = _axis_rotation(theta, LUMA) @ m
        s = torch.where(maybe("saturation"), 2 ** draws.normal(n, device=device, std=1.0), one).view(n, 1, 1)
        saturate = outer + (_eye(n, 4, device) - outer) * s
        saturate[:, 3, :] = torch.tensor([0.0, 0.0, 0.0, 1.0], device=device)
        return saturate @ m

    def forward(self, images: torch.Tensor, draws: Draws | None = None) -> torch.Tensor:
        if float(self.p) == 0:
            return images  # exactly the unaugmented run
        draws = draws or Draws()
        n, c, h, w = images.shape
        device, dtype = images.device, images.dtype
        if self.enabled & set(GEOMETRIC):
            from kornia.geometry.transform import warp_affine

            affine = self.geometric(n, (h, w), draws, device)
            images = warp_affine(images.float(), affine[:, :2, :], (h, w), mode="bilinear",
                                 padding_mode="reflection", align_corners=True).to(dtype)
        if self.enabled & set(COLOR):
            if c != 3:
                raise ValueError(f"ADA's colour ops need RGB images, got {c} channels")
            m = self.color(n, draws, device).to(dtype)
            images = torch.einsum("nij,njhw->nihw", m[:, :3, :3], images) + m[:, :3, 3].view(n, 3, 1, 1)
        return images

    def extra_repr(self) -> str:
        return f"ops={self.ops}, p={float(self.p):.4f}, target={self.target}"
