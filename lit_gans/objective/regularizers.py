"""Regularisers: each one term of a training step, declaring its network, its phase, its weight and how often it
runs (lazy regularisation, Karras et al. 2020b, Sec. 4: every `interval` optimizer steps with its weight multiplied
by `interval`, so the expected gradient is unchanged).

Phases:
    "d_real"  joins D's loss and reads the real batch (R1, drift)
    "d_fake"  joins D's loss and reads the fake batch
    "d"       joins D's loss and reads both (the WGAN gradient penalty on interpolates)
    "g"       joins G's step

A regulariser either returns a penalty with a graph (`penalty(batch)`, unweighted) or, with `analytic = True`,
adds a closed-form gradient to its network's `.grad` right before the optimizer step (`add_gradient`), which
builds no graph at all. A lazy term joins the ordinary optimizer step of its network (not a separate one), so
Adam's hyperparameters need no correction for it.

Every init argument is stored under its own name, so `config()` rebuilds the regulariser (checkpoints keep it as
plain data).
"""
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.nn as nn

from lit_gans.latents import seeded_generator
from lit_gans.objective.component import Component
from lit_gans.objective.gradient_penalty import gradient_penalty, r1_penalty
from lit_gans.objective.orthogonal import add_ortho_gradient

PHASES = ("d_real", "d_fake", "d", "g")
GP_STREAM = 3  # latent stream of the gradient penalty's interpolation weights


@dataclass
class StepBatch:
    """What a step's terms may read. `discriminate(x, y)` is D on augmented images, run eagerly (the penalties
    need double backward); `module` is the GAN (counters, seed, rank layout, GradScaler); `z` the latents the fakes
    were made from. In the G step the real fields are None and `logits_fake` are D's logits on G's fakes."""

    module: Any
    discriminate: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    fake: torch.Tensor
    y_fake: torch.Tensor | None
    logits_fake: torch.Tensor
    real: torch.Tensor | None = None
    y_real: torch.Tensor | None = None
    logits_real: torch.Tensor | None = None
    z: torch.Tensor | None = None
    index: int = 0  # the micro-batch's number among its network's (D: d_micro; G: g_steps * accumulate + micro)


class Regularizer(Component):
    """Base class. Subclasses set `name` (logged as loss/<name>, the weighted value) and `phase`."""

    name = "regularizer"
    phase = "d"
    analytic = False

    def __init__(self, weight: float, interval: int = 1):
        super().__init__()
        if weight < 0:
            raise ValueError(f"{type(self).__name__}: weight must be non-negative, got {weight}")
        if interval < 1:
            raise ValueError(f"{type(self).__name__}: interval must be at least 1, got {interval}")
        if self.phase not in PHASES:
            raise ValueError(f"{type(self).__name__}: phase must be one of {PHASES}, got {self.phase!r}")
        self.weight, self.interval = float(weight), int(interval)

    @property
    def network(self) -> str:
        """"D" or "G": the network whose optimizer step this term joins."""
        return "G" if self.phase == "g" else "D"

    def due(self, step: int) -> bool:
        """Whether the term runs in its network's optimizer step number `step` (0-based)."""
        return self.weight > 0 and step % self.interval == 0

    @property
    def gain(self) -> float:
        """The factor of the penalty in the loss when it runs: weight times interval."""
        return self.weight * self.interval

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        """The unweighted penalty (a float32 scalar with a graph)."""
        raise NotImplementedError

    def add_gradient(self, network: nn.Module) -> torch.Tensor:
        """For analytic terms: add gain * d penalty / d weights to `.grad`; return the weighted penalty."""
        raise NotImplementedError


class GradientPenalty(Regularizer):
    """WGAN-GP (Gulrajani et al. 2017): weight * E[(||grad D(x_hat)|| - target)^2] / target^2 on random
    interpolates x_hat of reals and fakes; `target` is ProGAN's gamma (1, or 750 for CIFAR-10). The interpolation
    weights are rows of one global draw per D micro-batch, like the latents, so they do not depend on the number
    of ranks and a resumed run draws the same ones."""

    name, phase = "gp", "d"

    def __init__(self, weight: float = 10.0, target: float = 1.0, interval: int = 1):
        super().__init__(weight, interval)
        if target <= 0:
            raise ValueError(f"GradientPenalty: target must be positive, got {target}")
        self.target = float(target)

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        module, real = batch.module, batch.real
        rank, world = module.rank_layout()
        rng = seeded_generator(module.seed, GP_STREAM, module.d_micro, device=real.device)
        u = torch.rand(real.shape[0] * world, 1, 1, 1, generator=rng, device=real.device)[rank::world]
        return gradient_penalty(batch.discriminate, real, batch.fake, batch.y_real, u, self.target,
                                module.grad_scaler())


class Drift(Regularizer):
    """ProGAN's drift term (Karras et al. 2018, Sec. A.1): weight * E[D(x)^2] on reals, keeping WGAN scores near 0."""

    name, phase = "drift", "d_real"

    def __init__(self, weight: float = 0.001, interval: int = 1):
        super().__init__(weight, interval)

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        return batch.logits_real.float().square().mean()


class R1(Regularizer):
    """R1 (Mescheder et al. 2018): gamma / 2 * E[||grad_x D(x)||^2] on reals. With `interval` (16 in StyleGAN2)
    it runs lazily, every `interval` D steps with its weight multiplied by `interval`."""

    name, phase = "r1", "d_real"

    def __init__(self, gamma: float = 10.0, interval: int = 1):
        super().__init__(gamma / 2, interval)
        self.gamma = float(gamma)

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        return r1_penalty(batch.discriminate, batch.real, batch.y_real, batch.module.grad_scaler())


class Orthogonal(Regularizer):
    """BigGAN's orthogonal regularisation (Brock et al. 2019, Eq. 3) of G, as a closed-form gradient
    (`lit_gans.objective.orthogonal`). It applies to every weight with two or more dimensions except those whose
    names start with a prefix in the network's `ortho_exempt` (BigGAN: the shared class embedding)."""

    name, phase, analytic = "ortho", "g", True

    def __init__(self, weight: float = 1e-4, interval: int = 1):
        super().__init__(weight, interval)

    @staticmethod
    def parameters_of(network: nn.Module) -> list[torch.Tensor]:
        exempt = tuple(getattr(network, "ortho_exempt", ()))
        return [p for name, p in network.named_parameters() if p.ndim >= 2 and not name.startswith(exempt)]

    def add_gradient(self, network: nn.Module) -> torch.Tensor:
        return add_ortho_gradient(self.parameters_of(network), self.gain) / self.interval


class LeCam(Regularizer):
    """LeCam regularisation (Tseng et al. 2021, Eq. 4, with the authors' ReLU): weight * (E[relu(D(x) - a_F)^2] +
    E[relu(a_R - D(G(z)))^2]), a_R and a_F moving averages (`decay`) of D's mean output on reals and fakes.

    The anchors are buffers, so checkpoints carry them. `start` counts training iterations (generator steps, each
    with its n_dis D steps), as both references do: before iteration `start` the anchors follow the last batch
    (decay 0), and the term applies from iteration `start` + 1 on (StudioGAN, `worker.py`: the EMA decays from
    `current_step >= lecam_ema_start_iter`, the term once `current_step > lecam_ema_start_iter`; the authors'
    BigGAN code counts `itr` from 1 and so starts one iteration earlier). Defaults are StudioGAN's CIFAR-10 recipe
    (weight 0.3, decay 0.99, start 1000).
    """

    name, phase = "lecam", "d"

    def __init__(self, weight: float = 0.3, decay: float = 0.99, start: int = 1000):
        super().__init__(weight)
        if not 0 <= decay < 1 or start < 0:
            raise ValueError(f"LeCam: decay must lie in [0, 1) and start be non-negative, got {decay}, {start}")
        self.decay, self.start = float(decay), int(start)
        self.register_buffer("anchors", torch.zeros(2))  # a_R, a_F

    def penalty(self, batch: StepBatch) -> torch.Tensor:
        means = torch.stack([batch.logits_real.detach().float().mean(), batch.logits_fake.detach().float().mean()])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(means)
            means /= dist.get_world_size()
        iteration = batch.module.g_steps  # iterations completed before this D step's
        self.anchors.copy_(torch.lerp(means, self.anchors, self.decay if iteration >= self.start else 0.0))
        if iteration <= self.start:
            return batch.logits_real.new_zeros((), dtype=torch.float32)
        anchor_real, anchor_fake = self.anchors
        return (torch.relu(batch.logits_real.float() - anchor_fake).square().mean()
                + torch.relu(anchor_real - batch.logits_fake.float()).square().mean())
