"""The training objective: everything a GAN's training step computes, in one object.

    objective = Objective("hinge", regularizers=[R1(gamma=0.1, interval=16)], augment=MyAugment())
    loss_d, logs = objective.discriminator_loss(module, real, y_real, fake, y_fake, z)   # D step
    loss_g, logs = objective.generator_loss(module, fake, y_fake, z)                       # G step
    logs = objective.before_optimizer_step(module, "G")                                 # analytic terms

`module` is the GAN whose step this is: the objective reads its discriminator and counters and nothing else. The
augmentation applies to every image D sees: reals and fakes, in both steps and in the penalties, each with its own
draw keyed by (seed, purpose, step), so that a resumed run augments exactly as the uninterrupted one. Discriminators
whose output for one image depends on the rest of the batch (`batch_dependent = True`, e.g. minibatch standard
deviation) see reals and fakes in separate forwards; the others in one forward of cat([real, fake]).
"""
import itertools

import torch
import torch.nn as nn

from lit_gans.objective.adversarial import AdversarialLoss, adversarial_loss
from lit_gans.objective.augment import Augment, Draws
from lit_gans.objective.component import build
from lit_gans.objective.regularizers import Regularizer, StepBatch

AUGMENT_STREAM = 4  # latent stream of the augmentation's draws
D_REAL, D_FAKE, G_FAKE, D_PENALTY, G_PENALTY = range(5)  # what a draw augments (the penalties of each step)


class Objective(nn.Module):
    """An adversarial loss, a list of regularisers and an augmentation (identity by default).

    The regularisers and the augmentation are submodules, so their state (buffers) is checkpointed with the model.
    """

    def __init__(self, loss: str | AdversarialLoss = "hinge", regularizers: list[Regularizer] | None = None,
                 augment: Augment | None = None):
        super().__init__()
        self.loss = adversarial_loss(loss) if isinstance(loss, str) else loss
        self.regularizers = nn.ModuleList(build(r, Regularizer) for r in regularizers or [])
        self.augment = build(augment, Augment) if augment is not None else Augment()

    def terms(self, network: str, step: int, analytic: bool = False) -> list[Regularizer]:
        """The regularisers of `network` ("D" or "G") due at its optimizer step number `step`."""
        return [r for r in self.regularizers if r.network == network and r.analytic == analytic and r.due(step)]

    def draws(self, module, purpose: int, index: int, *call: int) -> Draws:
        """The augmentation's random numbers for `purpose` (D_REAL, D_FAKE, ...) at micro-batch `index` (and, for
        the penalties, their `call`-th D forward of the step)."""
        rank, world = module.rank_layout()
        return Draws((module.seed, AUGMENT_STREAM, purpose, index, *call), rank, world, module.device)

    def discriminate(self, module, images: torch.Tensor, labels: torch.Tensor | None, draws: Draws,
                     eager: bool = False) -> torch.Tensor:
        """D(augment(images), labels); `eager` bypasses a compiled D (compiled graphs have no double backward)."""
        discriminator = module.discriminator
        forward = discriminator.forward if eager and module.compile_networks else discriminator
        return forward(self.augment(images, draws), labels)

    def penalty_discriminator(self, module, purpose: int, index: int):
        """D on augmented images for the penalties of a step, run eagerly: (x, y) -> logits. Each call draws its
        own augmentation (the calls of a step come in a fixed order, so a resumed run repeats them)."""
        calls = itertools.count()
        return lambda x, y: self.discriminate(module, x, y, self.draws(module, purpose, index, next(calls)), eager=True)

    def discriminator_loss(self, module, real: torch.Tensor, y_real: torch.Tensor | None, fake: torch.Tensor,
                           y_fake: torch.Tensor | None, z: torch.Tensor | None = None
                           ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The D loss of one micro-batch (reals (N, C, H, W), fakes detached, made from latents z) and the values
        to log."""
        n, index = real.shape[0], module.d_micro
        draws_real, draws_fake = self.draws(module, D_REAL, index), self.draws(module, D_FAKE, index)
        if getattr(module.discriminator, "batch_dependent", False):
            logits_real = self.discriminate(module, real, y_real, draws_real)
            logits_fake = self.discriminate(module, fake, y_fake, draws_fake)
        else:
            images = torch.cat([self.augment(real, draws_real), self.augment(fake, draws_fake)])
            logits = module.discriminator(images, None if y_real is None else torch.cat([y_real, y_fake]))
            logits_real, logits_fake = logits[:n], logits[n:]
        loss_real, loss_fake = self.loss.d_real(logits_real), self.loss.d_fake(logits_fake)
        logs = {"loss/d_real": loss_real.detach(), "loss/d_fake": loss_fake.detach(),
                **self.augment.observe(logits_real.detach(), n * module.rank_layout()[1])}
        loss = loss_real + loss_fake
        terms = self.terms("D", module.d_steps)
        if terms:
            batch = StepBatch(module, self.penalty_discriminator(module, D_PENALTY, index), fake, y_fake, logits_fake, real,
                              y_real, logits_real, z, index)
            penalty = None
            for term in terms:
                value = term.penalty(batch)
                logs[f"loss/{term.name}"] = term.weight * value.detach()
                weighted = term.gain * value
                penalty = weighted if penalty is None else penalty + weighted
            logs["loss/d_penalty"] = penalty.detach()
            loss = loss + penalty
        return loss, logs

    def generator_loss(self, module, fake: torch.Tensor, y_fake: torch.Tensor | None, z: torch.Tensor | None = None,
                       index: int | None = None) -> tuple[torch.Tensor, dict]:
        """G's loss on fakes (N, C, H, W) with a graph to G (made from latents z, the `index`-th G micro-batch;
        default: the G step number), and the values to log."""
        index = module.g_steps if index is None else index
        logits = self.discriminate(module, fake, y_fake, self.draws(module, G_FAKE, index))
        loss = self.loss.g(logits)
        logs = {}
        terms = self.terms("G", module.g_steps)
        if terms:
            batch = StepBatch(module, self.penalty_discriminator(module, G_PENALTY, index), fake, y_fake, logits, z=z,
                              index=index)
            for term in terms:
                value = term.penalty(batch)
                logs[f"loss/{term.name}"] = term.weight * value.detach()
                loss = loss + term.gain * value
        return loss, logs

    @torch.no_grad()
    def before_optimizer_step(self, module, network: str) -> dict[str, torch.Tensor]:
        """Add the analytic terms' gradients of `network` ("D" or "G"); runs after the backward passes (after
        unscaling under 16-mixed) and before the optimizer updates."""
        step = module.d_steps if network == "D" else module.g_steps
        target = module.discriminator if network == "D" else module.generator
        return {f"loss/{term.name}": term.add_gradient(target) for term in self.terms(network, step, analytic=True)}

    def extra_repr(self) -> str:
        return f"loss={self.loss.name}"
