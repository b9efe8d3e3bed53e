"""Parameter counting, the one place that does it (`GAN.describe`, per-stage counts of progressive networks)."""
import torch.nn as nn


def count_parameters(module: nn.Module | None) -> int:
    """Number of trainable parameters (elements) of `module`; 0 for None."""
    return 0 if module is None else sum(p.numel() for p in module.parameters() if p.requires_grad)


def parameter_breakdown(network: nn.Module) -> dict[str, int]:
    """Trainable parameters per top-level child, with ModuleLists and ModuleDicts split into their entries."""
    parts = {}
    for name, child in network.named_children():
        items = child.named_children() if isinstance(child, (nn.ModuleList, nn.ModuleDict)) else [(None, child)]
        for index, part in items:
            parts[name if index is None else f"{name}.{index}"] = count_parameters(part)
    return parts
