"""The distributed strategy GAN training needs, registered with Lightning as "gan_ddp".

Lightning's own DDP with `find_unused_parameters=True`: each optimizer step of a GAN touches one network only (D's
step runs G without gradients, G's step leaves D's gradients alone), and plain "ddp" stops with its
unused-parameters error (see the Lightning notes in the README). The CLI picks it whenever more than one process
is asked for and no strategy is named, so `--trainer.devices N` (and `--trainer.num_nodes M`) are enough;
`--trainer.strategy` still overrides it. From Python: `Trainer(devices=N, strategy="gan_ddp")`.
"""
import torch
from pytorch_lightning.strategies import DDPStrategy, StrategyRegistry

GAN_DDP = "gan_ddp"

if GAN_DDP not in StrategyRegistry:
    StrategyRegistry.register(GAN_DDP, DDPStrategy, description="DDP for GANs (find_unused_parameters=True)",
                              find_unused_parameters=True)


def wants_several_processes(accelerator, devices, num_nodes: int = 1) -> bool:
    """Whether Trainer(accelerator, devices, num_nodes) will run more than one process."""
    if num_nodes and int(num_nodes) > 1:
        return True
    if isinstance(devices, (list, tuple)):
        return len(devices) > 1
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()]) > 1
    if devices in ("auto", "-1", -1):
        gpu = str(accelerator) in ("auto", "gpu", "cuda")
        return gpu and torch.cuda.is_available() and torch.cuda.device_count() > 1
    try:
        return int(devices) > 1
    except (TypeError, ValueError):
        return False
