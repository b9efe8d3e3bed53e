"""bf16 on CPUs: whether this CPU computes it natively, and the precision a CPU run trains in.

x86 CPUs without AVX512-BF16 or AMX, and ARM CPUs without the BF16 extension, have no bf16 arithmetic: torch
emulates it there, and bf16-mixed training of the four models ran 11-33x slower than float32 on such a CPU (an AVX2
AMD EPYC, benchmarks/RESULTS.md, "Training step throughput per model and numeric mode"). Where the CPU has bf16
units, bf16-mixed with channels-last tensors is the fastest mode (1.3-2x float32 on the digits default). A run on a
CPU that would emulate bf16 therefore trains in 32-true instead, with a warning, unless the command line asks for
bf16 itself.
"""
import platform

import torch

BF16_PRECISIONS = ("bf16", "bf16-mixed", "bf16-true")
X86 = ("x86_64", "amd64", "i386", "i686")


def native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic (x86: AVX512-BF16 or AMX; other CPUs: what oneDNN reports). True when
    torch cannot tell, so that an unknown CPU keeps the precision asked for."""
    try:
        if platform.machine().lower() in X86:
            return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def runs_on_cpu(accelerator) -> bool:
    """Whether a Trainer with this `accelerator` setting ("cpu", "auto", "gpu", ... or an Accelerator) runs on the CPU."""
    from pytorch_lightning.accelerators import CPUAccelerator, CUDAAccelerator, MPSAccelerator, XLAAccelerator

    if not isinstance(accelerator, str):
        return isinstance(accelerator, CPUAccelerator)
    if accelerator != "auto":
        return accelerator == "cpu"
    return not any(a.is_available() for a in (CUDAAccelerator, MPSAccelerator, XLAAccelerator))


def cpu_precision(precision, accelerator) -> str | None:
    """The precision to train in: `precision`, or "32-true" in place of a bf16 precision on a CPU without bf16 units
    (None when nothing changes)."""
    if str(precision) in BF16_PRECISIONS and runs_on_cpu(accelerator) and not native_bf16():
        return "32-true"
    return None
