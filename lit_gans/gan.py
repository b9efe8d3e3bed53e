"""The training core shared by every GAN: alternating discriminator and generator updates under manual optimization.

One `training_step` receives one real micro-batch and uses it for one discriminator forward/backward. After
`accumulate` micro-batches the discriminator optimizer steps; after every `n_dis` discriminator steps the generator
takes one step, itself accumulated over `accumulate` micro-batches of fakes.

Counters (all kept in checkpoints, all in the module, never derived from `trainer.global_step`):
    d_micro      discriminator micro-batches processed on this rank
    d_steps      discriminator optimizer steps
    g_steps      generator optimizer steps
    images_seen  real images shown to D, summed over all ranks (kimg = images_seen / 1000)

`trainer.global_step` counts the steps of both optimizers (about 1 + 1/n_dis per optimizer step of D), so
`Trainer(max_steps=N)` stops after roughly N / (1 + 1/n_dis) discriminator steps; use `callbacks.StopAt` to stop
at a number of kimg or generator steps instead.
"""
import copy
import inspect
import os

import torch
import torch.nn as nn
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

from lit_gans import checkpoint_io
from lit_gans.finetune import InitialWeights, frozen_blocks, load_initial_weights, read_initial_weights
from lit_gans.latents import TRUNCATION_STYLES, sample_latents, seeded_generator
from lit_gans.layers.spectral_norm import spectral_norm_layers
from lit_gans.layers.truncation_stats import tabulated_norms, tabulated_statistics
from lit_gans.objective import Augment, Objective, Regularizer
from lit_gans.objective.component import Component
from lit_gans.parameters import count_parameters, parameter_breakdown
from lit_gans.standing_stats import accumulate_standing_stats

D_STREAM, G_STREAM, STANDING_STATS_STREAM = 0, 1, 2  # latent streams: (seed, rank, stream, index) keys
PROGRESS_BAR = ("loss/d_real", "loss/d_fake", "loss/d_penalty", "loss/g", "loss/ortho")


def compilable_discriminator(discriminator: nn.Module) -> bool:
    """Whether `torch.compile` can run D: not when it is batch-dependent (two forwards before one backward) and
    spectrally normalised (each forward updates the power-iteration vectors in place, which a compiled graph saves
    for its backward: "modified by an inplace operation" with inductor, torch 2.14)."""
    return not (getattr(discriminator, "batch_dependent", False) and any(True for _ in spectral_norm_layers(discriminator)))


def inputs_in_own_dtype(network: nn.Module, inputs: tuple) -> tuple:
    """Forward pre-hook: float tensors (images, latents, blended class embeddings) in the network's parameter dtype,
    so that a network Lightning converted to bf16 or float64 (--trainer.precision bf16-true, 64-true) takes the
    float32 images and latents of the data and of every callback. A no-op under mixed precision."""
    dtype = next(network.parameters()).dtype
    return tuple(x.to(dtype) if torch.is_tensor(x) and x.is_floating_point() and x.dtype != dtype else x for x in inputs)


class GAN(pl.LightningModule):
    """The model (--model: SNGAN, SAGAN, BigGAN, BigGANDeep or ProGAN, all subclasses of this one).

    Subclasses build their networks and hand them to `set_networks(generator, discriminator)`: G (z, y) -> images
    in [-1, 1], D (images, y) -> logits (N,); then call `self.save_hyperparameters()`.

    What a step computes belongs to `self.objective` (`lit_gans.objective.Objective`): the adversarial loss, the
    regularisers and the augmentation. The module owns the optimizers, the counters, the latent streams and
    `generator_ema`, the generator used for sampling: a copy of G after every generator step, or the moving
    average the `callbacks.EMA` callback sets the rule of.

    Args:
        z_dim: latent size.
        num_classes: number of classes for class-conditional models; 0 for unconditional.
        loss: adversarial loss, "hinge", "ns" (non-saturating), "wgan" or "ls" (least squares).
        regularizers: extra terms of the objective (e.g. `lit_gans.objective.R1(gamma=0.1, interval=16)`); a model's
            own terms (BigGAN's orthogonal regularisation, ProGAN's gradient penalty) come first.
        augment: a differentiable transform of every image D sees (`lit_gans.objective.Augment`; identity if None).
        n_dis: discriminator steps per generator step.
        accumulate: micro-batches per optimizer step (the effective batch is batch_size * accumulate * world size).
        g_batch_multiple: G's step trains on this many times D's batch of fakes (sngan_projection: n_gen_samples
            128 with batchsize 64, so 2; BigGAN-PyTorch's G_batch_size / batch_size). D always sees the data's batch.
        lr_g, lr_d: Adam learning rates of G and D (two time-scale update rule).
        betas_g, betas_d: Adam betas of G and D.
        adam_eps: Adam epsilon for both.
        seed: base seed of the latent streams; each rank draws from its own stream.
        truncation_style: how `sample(..., truncation=t)` truncates z: "resample" (N(0, I) restricted to [-t, t],
            as in the BigGAN paper) or "scale" (t * N(0, I) restricted to [-2, 2], the TF-Hub BigGAN-deep
            convention its converted weights record).
        max_nonfinite: stop with an error after this many consecutive skipped optimizer steps. A step is skipped
            when its loss (on any rank) or its gradient is not finite; under 16-mixed the GradScaler's overflow
            skips count too.
        grad_clip: clip the gradient norm of G and of D to this value (None: no clipping). Clipping sees the
            unscaled gradient under 16-mixed and includes the analytic regularisers' gradients.
        fused_adam: use PyTorch's fused Adam kernels.
        channels_last: keep G, D and the real batches in channels-last memory format (faster convolutions on
            tensor-core GPUs).
        compile: compile G and D with `torch.compile` (the input-gradient penalties always run D uncompiled,
            because compiled graphs do not support double backward; a spectrally normalised D with minibatch
            stddev stays uncompiled, `compilable_discriminator`).
        init_from: fine-tune: start training from the weights of this lit-gans checkpoint (trained, or written by
            `lit-gans convert`) with fresh counters and optimizers (`lit_gans.finetune`); layers whose size follows
            the number of classes start fresh when it differs. Resuming with --ckpt_path restores the run instead.
        freeze_d: FreezeD (Mo et al. 2020): keep D's input layer and its first `freeze_d` blocks fixed (weights and
            spectral-norm vectors).
        init_lr_scale: learning-rate multiplier for the parameters `init_from` loads (e.g. 0.1: the pretrained
            layers move slower than the fresh ones, which train at lr_g / lr_d).
    """

    def __init__(
        self,
        z_dim: int = 128,
        num_classes: int = 0,
        loss: str = "hinge",
        regularizers: list[Regularizer] | None = None,
        augment: Augment | None = None,
        n_dis: int = 1,
        accumulate: int = 1,
        g_batch_multiple: int = 1,
        lr_g: float = 1e-4,
        lr_d: float = 4e-4,
        betas_g: tuple[float, float] = (0.0, 0.9),
        betas_d: tuple[float, float] = (0.0, 0.9),
        adam_eps: float = 1e-8,
        seed: int = 0,
        truncation_style: str = "resample",
        max_nonfinite: int = 20,
        grad_clip: float | None = None,
        fused_adam: bool = False,
        channels_last: bool = False,
        compile: bool = False,
        init_from: str | None = None,
        freeze_d: int = 0,
        init_lr_scale: float = 1.0,
    ):
        super().__init__()
        if n_dis < 1:
            raise ValueError(f"n_dis must be at least 1, got {n_dis}")
        if accumulate < 1:
            raise ValueError(f"accumulate must be at least 1, got {accumulate}")
        if g_batch_multiple < 1:
            raise ValueError(f"g_batch_multiple must be at least 1, got {g_batch_multiple}")
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"grad_clip must be positive (or None for no clipping), got {grad_clip}")
        if max_nonfinite < 1:
            raise ValueError(f"max_nonfinite must be at least 1, got {max_nonfinite}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be 0 (unconditional) or positive, got {num_classes}")
        if freeze_d < 0 or init_lr_scale <= 0:
            raise ValueError(f"freeze_d must be non-negative and init_lr_scale positive, got {freeze_d}, {init_lr_scale}")
        if truncation_style not in TRUNCATION_STYLES:
            raise ValueError(f"truncation_style must be one of {TRUNCATION_STYLES}, got {truncation_style!r}")
        self.automatic_optimization = False
        self.objective = Objective(loss, regularizers, augment)
        self.z_dim, self.num_classes, self.loss = z_dim, num_classes, loss
        self.n_dis, self.accumulate, self.seed, self.max_nonfinite = n_dis, accumulate, seed, max_nonfinite
        self.g_batch_multiple = g_batch_multiple
        self.truncation_style = truncation_style
        self.init_from, self.freeze_d, self.init_lr_scale = init_from, freeze_d, init_lr_scale
        self._initial_weights: InitialWeights | None = None
        self._restored = False  # set when Lightning restores a checkpoint (resume): init_from is then skipped
        self._frozen: list[nn.Module] = []  # D blocks fixed by freeze_d
        self._scaled: set[str] | None = None  # parameters trained at init_lr_scale (kept in checkpoints for resuming)
        self.lr_g, self.lr_d, self.adam_eps = lr_g, lr_d, adam_eps
        self.grad_clip, self.fused_adam, self.channels_last, self.compile_networks = grad_clip, fused_adam, channels_last, compile
        self.betas_g, self.betas_d = tuple(map(float, betas_g)), tuple(map(float, betas_d))  # Adam refuses (0, 0.9)
        self.generator: nn.Module
        self.discriminator: nn.Module
        self.generator_ema: nn.Module
        self.ema_updater = None  # set by callbacks.EMA: an object with update(module); None: copy G
        self.d_micro = self.d_steps = self.g_steps = self.images_seen = 0
        self.nonfinite_streak = self.skipped_steps = 0
        self._d_window_finite = True  # every D loss of the current accumulation window was finite
        self._grads_finite = True  # set by on_before_optimizer_step for the step in progress
        self._logs: dict[str, torch.Tensor] = {}  # latest value of every logged loss and gradient norm

    def set_networks(self, generator: nn.Module, discriminator: nn.Module) -> None:
        """Install G and D, and `generator_ema`: a frozen copy of G (in the state dict, so checkpoints carry it).
        Each network takes float inputs in its own dtype (`inputs_in_own_dtype`)."""
        for network in (generator, discriminator):
            network.register_forward_pre_hook(inputs_in_own_dtype)
        self.generator, self.discriminator = generator, discriminator
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False)

    def save_hyperparameters(self, *args, **kwargs) -> None:
        """Lightning's, with the objective's parts stored as plain {"class_path", "init_args"} data, so that
        checkpoints load under `torch.load(weights_only=True)` and rebuild the same objective."""
        super().save_hyperparameters(*args, frame=inspect.currentframe().f_back, **kwargs)
        for key in ("regularizers", "augment"):
            value = self.hparams.get(key)
            if isinstance(value, Component):
                self.hparams[key] = value.config()
            elif isinstance(value, (list, tuple)):
                self.hparams[key] = [v.config() if isinstance(v, Component) else v for v in value]

    # ----------------------------------------------------------------------------------------------- optimization

    def setup(self, stage: str) -> None:
        """Checkpoints that a kill during their save never destroys, wherever $TMPDIR is (`lit_gans.checkpoint_io`)."""
        checkpoint_io.install(self.trainer)

    def on_fit_start(self) -> None:
        """Refuse data that does not fit the model, with a message instead of a shape error mid-step."""
        data = self.trainer.datamodule
        data_resolution, resolution = getattr(data, "resolution", None), getattr(self, "resolution", None)
        if data_resolution and resolution and data_resolution != resolution:
            raise ValueError(f"the data serves {data_resolution} px images but the model makes {resolution} px images; "
                             "set data.resolution and model.resolution to the same value")
        data_classes = getattr(data, "num_classes", None)
        if self.num_classes and data_classes is not None and data_classes != self.num_classes:
            found = f"{data_classes} classes" if data_classes else "no class labels"
            raise ValueError(f"the model is conditioned on {self.num_classes} classes but the data has {found}; set "
                             f"model.num_classes to {data_classes}" + (" (unconditional)" if not data_classes else ""))
        if self.init_from and not self._restored:
            load_initial_weights(self, self.initial_weights())
            rank_zero_info(f"init_from {self.init_from}: {self.initial_weights().summary()}")

    def train(self, mode: bool = True):
        """nn.Module.train, except that D blocks frozen by `freeze_d` stay in eval mode: their spectral-norm power
        iteration stops too, so a frozen block computes the same function throughout."""
        super().train(mode)
        for block in self._frozen:
            block.eval()
        return self

    def initial_weights(self) -> InitialWeights:
        """The weights `init_from` names, read once (`lit_gans.finetune.read_initial_weights`)."""
        if self._initial_weights is None:
            self._initial_weights = read_initial_weights(self, self.init_from)
        return self._initial_weights

    def configure_model(self) -> None:
        """Apply the speed options (Lightning calls this before moving the module to its device and wrapping it)."""
        if self.channels_last:
            for network in (self.generator, self.discriminator, self.generator_ema):
                network.to(memory_format=torch.channels_last)
        if self.compile_networks:
            self.generator.compile()  # in place: parameter names, checkpoints and DDP are unchanged
            if compilable_discriminator(self.discriminator):
                self.discriminator.compile()
            else:
                rank_zero_warn("compile: D stays eager, G is compiled. A spectrally normalised D that sees reals and "
                               "fakes in two forwards (minibatch stddev) fails in inductor's backward, because the "
                               "second forward updates the power-iteration vectors the first one saved")

    def configure_optimizers(self):
        """Adam for G and for D. Frozen D blocks (`freeze_d`) are left out; with `init_from` and an `init_lr_scale`
        other than 1, the loaded parameters form a second parameter group at the scaled learning rate."""
        self._frozen = frozen_blocks(self.discriminator, self.freeze_d) if self.freeze_d else []
        for block in self._frozen:
            block.requires_grad_(False).eval()
        if self.init_from and self.init_lr_scale != 1 and self._scaled is None:
            self._scaled = self.initial_weights().loaded_parameters(self)
        scaled = self._scaled or set()

        def groups(name: str, lr: float) -> list[dict]:
            trained = [(f"{name}.{k}", p) for k, p in getattr(self, name).named_parameters() if p.requires_grad]
            fresh = [p for k, p in trained if k not in scaled]
            loaded = [p for k, p in trained if k in scaled]
            return [g for g in ({"params": fresh, "lr": lr}, {"params": loaded, "lr": lr * self.init_lr_scale}) if g["params"]]

        adam = dict(eps=self.adam_eps, fused=True if self.fused_adam else None)
        opt_g = torch.optim.Adam(groups("generator", self.lr_g), betas=self.betas_g, **adam)
        opt_d = torch.optim.Adam(groups("discriminator", self.lr_d), betas=self.betas_d, **adam)
        return [opt_g, opt_d]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """One D micro-batch; the D optimizer steps every `accumulate` of them, G after every `n_dis` D steps."""
        real, labels = batch  # (N, 3, H, W) in [-1, 1], (N,) int64
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        opt_g, opt_d = self.optimizers()
        n, last_micro = real.shape[0], (self.d_micro + 1) % self.accumulate == 0
        with opt_d.toggle_model(sync_grad=last_micro):  # no gradient all-reduce mid-accumulation
            z, y_fake = self._latents(n, D_STREAM, self.d_micro)
            with torch.no_grad():
                fake = self.generator(z, y_fake)
            loss_d, logs = self.objective.discriminator_loss(self, real, labels if self.num_classes else None, fake,
                                                             y_fake, z)
            self.manual_backward(loss_d / self.accumulate)
        self._logs.update(logs)
        self.d_micro += 1
        self.images_seen += n * self.trainer.world_size
        self._d_window_finite = self._d_window_finite and bool(torch.isfinite(loss_d))
        if last_micro:
            self._optimizer_step(opt_d, self._d_window_finite, "discriminator")
            self._d_window_finite = True
            self.d_steps += 1
            if self.d_steps % self.n_dis == 0:
                self._generator_step(opt_g, n * self.g_batch_multiple)

    def _generator_step(self, opt_g, n: int) -> None:
        total, finite = 0.0, True
        for micro in range(self.accumulate):
            with opt_g.toggle_model(sync_grad=micro == self.accumulate - 1):
                index = self.g_steps * self.accumulate + micro
                z, y = self._latents(n, G_STREAM, index)
                loss_g, logs = self.objective.generator_loss(self, self.generator(z, y), y, z, index)
                self.manual_backward(loss_g / self.accumulate)
            finite = finite and bool(torch.isfinite(loss_g))
            total = total + loss_g.detach() / self.accumulate
            self._logs.update(logs)
        self._optimizer_step(opt_g, finite, "generator")
        self.g_steps += 1
        self._logs["loss/g"] = total
        if self.ema_updater is not None:
            self.ema_updater.update(self)
        else:
            self.update_generator_ema(0.0)

    @torch.no_grad()
    def update_generator_ema(self, beta: float) -> None:
        """Move `generator_ema` toward G: ema <- lerp(ema, G, 1 - beta) for parameters (beta 0: a copy); buffers
        (BatchNorm statistics, spectral-norm vectors, stage) are copied."""
        ema_params, live_params = list(self.generator_ema.parameters()), list(self.generator.parameters())
        if beta == 0:
            torch._foreach_copy_(ema_params, live_params)
        else:
            torch._foreach_lerp_(ema_params, live_params, 1 - beta)
        for ema_buffer, live_buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(live_buffer)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """Log the latest scalars on the batches whose values Lightning writes to the logger (every
        `trainer.log_every_n_steps` batches and the last one), and on the first; the others skip the cost of
        `self.log`, about a millisecond per value."""
        max_steps = self.trainer.max_steps
        last = self.trainer.should_stop or max_steps not in (None, -1) and self.trainer.global_step >= max_steps
        if self.d_micro == 1 or self.d_micro % self.trainer.log_every_n_steps == 0 or last:
            self.log_scalars()

    def log_scalars(self) -> None:
        """Log the latest losses and gradient norms (the losses and kimg on the progress bar), learning rates and
        counters."""
        opt_g, opt_d = self.optimizers()
        self.log_dict({**{k: v for k, v in self._logs.items() if k in PROGRESS_BAR}, "kimg": self.images_seen / 1000},
                      prog_bar=True)
        self.log_dict({**{k: v for k, v in self._logs.items() if k not in PROGRESS_BAR},
                       "progress/g_steps": float(self.g_steps), "progress/skipped_steps": float(self.skipped_steps),
                       "lr/g": opt_g.param_groups[0]["lr"], "lr/d": opt_d.param_groups[0]["lr"]})

    def on_before_optimizer_step(self, optimizer) -> None:
        """Runs after the backward passes (and after unscaling under 16-mixed), right before the optimizer updates:
        adds the objective's analytic gradients (e.g. orthogonal regularisation), records the gradient norm, drops
        a non-finite gradient (so the step changes nothing) and clips."""
        scaler = self.grad_scaler()
        if scaler is not None and getattr(optimizer, "_step_supports_amp_scaling", False):
            scaler.unscale_(optimizer)  # fused optimizers unscale inside step(); clipping needs the true gradient now
        network = "G" if optimizer is self.optimizers(use_pl_optimizer=False)[0] else "D"
        self._logs.update(self.objective.before_optimizer_step(self, network))
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        self._logs[f"grad_norm/{network.lower()}"] = norm
        self._grads_finite = bool(torch.isfinite(norm))
        if not self._grads_finite:
            for p in params:
                p.grad = None  # Adam skips parameters without a gradient; a GradScaler skips the step itself
        elif self.grad_clip is not None:
            torch.nn.utils.clip_grads_with_norm_(params, self.grad_clip, norm)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """The GradScaler of 16-mixed training (None under 32-true and bf16-mixed)."""
        return getattr(self.trainer.precision_plugin, "scaler", None) if self._trainer is not None else None

    def _optimizer_step(self, optimizer, loss_finite: bool, name: str) -> None:
        """Step, unless the loss on some rank or the gradient is not finite; stop after `max_nonfinite` skips in a
        row. Every rank takes the same decision (the loss check is all-reduced, the gradient already is)."""
        loss_finite = self.trainer.strategy.reduce_boolean_decision(loss_finite, all=True)
        self._grads_finite = True
        scaler = self.grad_scaler()
        if loss_finite:
            optimizer.step()  # runs on_before_optimizer_step, which checks the gradient
        elif scaler is not None:  # e.g. a gradient penalty that overflowed in float16: lower the scale as on overflow
            scaler.update(scaler.get_scale() * scaler.get_backoff_factor())
        if loss_finite and self._grads_finite:
            self.nonfinite_streak = 0
        else:
            self.skipped_steps += 1
            self.nonfinite_streak += 1
            cause = "gradient" if loss_finite else "loss"
            if scaler is None:  # under 16-mixed, skips while the GradScaler finds its scale are routine
                rank_zero_warn(f"non-finite {name} {cause} at generator step {self.g_steps}: optimizer step skipped")
            if self.nonfinite_streak >= self.max_nonfinite:
                raise FloatingPointError(
                    f"{self.nonfinite_streak} consecutive optimizer steps were skipped for a non-finite loss or "
                    f"gradient (last: {name} {cause}, generator step {self.g_steps}, {self.images_seen / 1000:.1f} "
                    "kimg). Training stopped; checkpoints already written are intact. Lower the learning rates, "
                    "set grad_clip, or try bf16-mixed instead of 16-mixed."
                )
        optimizer.zero_grad(set_to_none=True)

    def _latents(self, n: int, stream: int, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's z (n, z_dim) and random labels (n,): rows rank, rank + world, ... of a global batch of
        n * world drawn from the (seed, stream, index) stream. The global batch is thus the same for any number of
        ranks (and interleaved as the data is), and a resumed run draws exactly what the uninterrupted one would."""
        rank, world = self.rank_layout()
        rng = seeded_generator(self.seed, stream, index, device=self.device)
        z = sample_latents(n * world, self.z_dim, generator=rng, device=self.device)[rank::world]
        y = None
        if self.num_classes:
            y = torch.randint(self.num_classes, (n * world,), generator=rng, device=self.device)[rank::world]
        return z.contiguous(), y

    def rank_layout(self) -> tuple[int, int]:
        """(global rank, world size); (0, 1) outside of a Trainer."""
        return (self.trainer.global_rank, self.trainer.world_size) if self._trainer is not None else (0, 1)

    def at_full_resolution(self) -> bool:
        """Whether samples come out at the model's final resolution (progressive models override this)."""
        return True

    # -------------------------------------------------------------------------------------------------- sampling

    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: torch.Tensor | list[int] | int | None = None,
        truncation: float | None = None,
        use_ema: bool = True,
        seed: int | None = None,
        batch_size: int = 256,
        standing_stats: int = 0,
    ) -> torch.Tensor:
        """Generate n images (n, 3, H, W) in [-1, 1] with G in eval mode.

        y: class per image (n,), one class for all, or None for random classes (ignored when unconditional).
        truncation: truncate z in the model's `truncation_style` (by default: a normal restricted to [-truncation,
            truncation]); a generator with tabulated BatchNorm statistics (converted TF-Hub BigGAN-deep) also
            normalises with the statistics of this truncation.
        use_ema: use `generator_ema` (the moving average under `callbacks.EMA`, else a copy of G).
        standing_stats: if positive, sample from a copy of G whose BatchNorm statistics are re-estimated over this
            many batches of `batch_size` random samples (same truncation), as in BigGAN.
        """
        generator = self.generator_ema if use_ema else self.generator
        if standing_stats and tabulated_norms(generator):
            raise ValueError("this generator normalises with BatchNorm statistics tabulated per truncation (converted "
                             "TF-Hub weights), which would replace standing statistics; sample without standing_stats")
        if standing_stats:
            generator = self.standing_stats_generator(generator, standing_stats, batch_size, truncation,
                                                      seed if seed is not None else self.seed)
        z, labels = self.sample_inputs(n, y, truncation, seed)
        return self.generate(z, labels, generator, batch_size, truncation)

    def sample_inputs(self, n: int, y: torch.Tensor | list[int] | int | None = None, truncation: float | None = None,
                      seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents z (n, z_dim) and labels (n,) (None when unconditional) as `sample` draws them."""
        rng = seeded_generator(seed, device=self.device) if seed is not None else None
        z = sample_latents(n, self.z_dim, truncation, rng, self.device, self.truncation_style)
        labels = None
        if self.num_classes:
            if y is None:
                labels = torch.randint(self.num_classes, (n,), generator=rng, device=self.device)
            else:
                labels = torch.as_tensor(y, dtype=torch.long, device=self.device).expand(n).clone()
                if labels.min() < 0 or labels.max() >= self.num_classes:
                    raise ValueError(f"class labels must lie in [0, {self.num_classes}), got {labels.unique().tolist()}")
        return z, labels

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None, generator: nn.Module | None = None,
                 batch_size: int = 256, truncation: float | None = None) -> torch.Tensor:
        """Images (n, 3, H, W) in [-1, 1] from given z (n, z_dim) and labels (n,), with `generator` (default:
        `generator_ema`) in eval mode, in chunks of `batch_size`. `truncation` matters only to a generator with
        BatchNorm statistics tabulated per truncation (`lit_gans.layers.truncation_stats`), which then uses them."""
        generator = self.generator_ema if generator is None else generator
        was_training = generator.training
        generator.eval()
        try:
            with tabulated_statistics(generator, truncation):
                chunks = [
                    generator(z[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
                    for i in range(0, len(z), batch_size)
                ]
        finally:
            generator.train(was_training)
        return torch.cat(chunks).float().clamp(-1, 1)

    def standing_stats_generator(self, generator: nn.Module, num_batches: int, batch_size: int = 256,
                                 truncation: float | None = None, seed: int = 0) -> nn.Module:
        """A copy of `generator` (left untouched) with BatchNorm statistics re-estimated over random samples."""

        def make_inputs(i: int) -> tuple[torch.Tensor, torch.Tensor | None]:
            rng = seeded_generator(seed, 0, STANDING_STATS_STREAM, i, device=self.device)
            z = sample_latents(batch_size, self.z_dim, truncation, rng, self.device, self.truncation_style)
            y = torch.randint(self.num_classes, (batch_size,), generator=rng, device=self.device) if self.num_classes else None
            return z, y

        return accumulate_standing_stats(copy.deepcopy(generator), make_inputs, num_batches)

    # ------------------------------------------------------------------------------------------- introspection

    def describe(self) -> dict:
        """Trainable parameter counts of G and D, in total and per top-level layer or block (and per stage for
        progressive networks, which have `parameters_at`), with the hyperparameters."""
        description = {
            "model": type(self).__name__,
            "generator_params": count_parameters(self.generator),
            "discriminator_params": count_parameters(self.discriminator),
            "generator_breakdown": parameter_breakdown(self.generator),
            "discriminator_breakdown": parameter_breakdown(self.discriminator),
            "objective": repr(self.objective),
            "batches": f"D {self.n_dis} step(s) per G step; G trains on {self.g_batch_multiple}x D's batch of fakes",
            "hparams": dict(self.hparams),
        }
        for name, network in (("generator", self.generator), ("discriminator", self.discriminator)):
            if hasattr(network, "parameters_at"):
                description[f"{name}_params_by_resolution"] = {r: network.parameters_at(r) for r in network.resolutions}
        return description

    # ----------------------------------------------------------------------------------------------- checkpoints

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args, **kwargs):
        """Lightning's, and on the base class (`GAN.load_from_checkpoint(path)`) the model class the checkpoint
        holds (SAGAN, BigGAN, ...: `checkpoint_model_class`), so that any lit-gans checkpoint loads without naming
        its class."""
        if cls is GAN:
            return checkpoint_model_class(checkpoint_path).load_from_checkpoint(checkpoint_path, *args, **kwargs)
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["lit_gans"] = {
            "model": type(self).__name__,
            "d_micro": self.d_micro,
            "d_steps": self.d_steps,
            "g_steps": self.g_steps,
            "images_seen": self.images_seen,
            "skipped_steps": self.skipped_steps,
        }
        if self._scaled:
            checkpoint["lit_gans"]["init_lr_scaled"] = sorted(self._scaled)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("lit_gans")
        if state is None:
            raise ValueError("this checkpoint was not written by a lit-gans model (it has no 'lit_gans' entry)")
        if state["model"] != type(self).__name__:
            raise ValueError(f"this checkpoint holds a {state['model']} model and cannot be loaded into {type(self).__name__}")
        weights = checkpoint["state_dict"]
        self._restored = True
        converted = state.get("converted")
        fitting = self._trainer is not None and self.trainer.state.fn == "fit"
        if converted and fitting and ("discriminator" not in converted["networks"] or "optimizer_states" not in checkpoint):
            lacks = ("no discriminator (only the generator was released)" if "discriminator" not in converted["networks"]
                     else "no optimizer states")
            raise ValueError(f"this checkpoint was converted from {converted['source']} and holds {lacks}, so training "
                             "cannot continue from it; fine-tune it with --model.init_args.init_from instead, which "
                             "starts a new run from its weights")
        if converted and "discriminator" not in converted["networks"]:
            weights.update({"discriminator." + k: v for k, v in self.discriminator.state_dict().items()})
        for key in ("d_micro", "d_steps", "g_steps", "images_seen", "skipped_steps"):
            setattr(self, key, state[key])
        if "init_lr_scaled" in state:  # a fine-tuning run resumed: the same parameter groups, without the init file
            self._scaled = set(state["init_lr_scaled"])
        if not any(k.startswith("generator_ema.") for k in weights):  # written without an EMA: sample from G
            weights.update({"generator_ema." + k[len("generator."):]: v for k, v in list(weights.items())
                            if k.startswith("generator.")})
        data = self.trainer.datamodule if fitting else None
        if data is not None and type(data).__qualname__ not in checkpoint and hasattr(data, "content_fingerprint"):
            # Lightning hands a data module only the record saved under its own class name: one that another data
            # module class wrote is checked here (`datamodules.base.GANDataModule.load_state_dict`)
            records = [v for v in checkpoint.values() if isinstance(v, dict) and v.get("lit_gans_data")]
            if records:
                data.load_state_dict(records[0])


def checkpoint_model_class(checkpoint_path) -> type[GAN]:
    """The GAN subclass a lit-gans checkpoint holds: the one its `checkpoint["lit_gans"]["model"]` names, among the
    subclasses already imported (a checkpoint never makes new code run). A local file's tensors are memory-mapped,
    not read."""
    if isinstance(checkpoint_path, (str, os.PathLike)) and os.path.isfile(checkpoint_path):
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True, mmap=True)
    else:  # a URL or a file object, as Lightning's own loader takes
        from lightning_fabric.utilities.cloud_io import _load

        start = checkpoint_path.tell() if hasattr(checkpoint_path, "seek") else None
        checkpoint = _load(checkpoint_path, map_location="cpu", weights_only=True)
        if start is not None:
            checkpoint_path.seek(start)  # Lightning reads it again
    name = (checkpoint.get("lit_gans") or {}).get("model")
    if name is None:
        raise ValueError(f"{checkpoint_path} was not written by a lit-gans model (it has no 'lit_gans' entry)")
    classes, found = [GAN], {}
    while classes:
        for subclass in classes.pop().__subclasses__():
            found.setdefault(subclass.__name__, subclass)
            classes.append(subclass)
    if name not in found:
        raise ValueError(f"{checkpoint_path} holds a {name} model, which is not an imported lit-gans model class "
                         f"({', '.join(sorted(found))}); import the module that defines it first")
    return found[name]
