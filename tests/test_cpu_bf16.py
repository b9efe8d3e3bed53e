"""bf16 on CPUs without bf16 units: a config's bf16-mixed becomes 32-true there (emulated bf16 is 11-33x slower)."""
import platform
from pathlib import Path

import pytest

import lit_gans.cpu_bf16 as cpu_bf16
from lit_gans.cli import main
from lit_gans.cpu_bf16 import cpu_precision, native_bf16, runs_on_cpu


def test_native_bf16_agrees_with_the_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if platform.machine().lower() not in cpu_bf16.X86 or not cpuinfo.is_file():
        pytest.skip("reads the x86 CPU flags of /proc/cpuinfo")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    assert native_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_only_a_bf16_precision_on_a_cpu_without_bf16_units_changes(monkeypatch):
    monkeypatch.setattr(cpu_bf16, "native_bf16", lambda: False)
    assert cpu_precision("bf16-mixed", "cpu") == "32-true" and cpu_precision("bf16-true", "cpu") == "32-true"
    assert cpu_precision("32-true", "cpu") is None and cpu_precision("16-mixed", "cpu") is None
    assert cpu_precision("bf16-mixed", "gpu") is None and cpu_precision("bf16-mixed", "cuda") is None
    assert runs_on_cpu("auto") == (cpu_precision("bf16-mixed", "auto") == "32-true")
    from pytorch_lightning.accelerators import CPUAccelerator

    assert runs_on_cpu(CPUAccelerator()) and not runs_on_cpu("gpu")
    monkeypatch.setattr(cpu_bf16, "native_bf16", lambda: True)
    assert cpu_precision("bf16-mixed", "cpu") is None


def test_the_default_trains_in_float32_on_a_cpu_without_bf16_units(monkeypatch):
    monkeypatch.setattr(cpu_bf16, "native_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no bf16 units .* training in 32-true instead"):
        cli = main(["--trainer.logger=false", "--trainer.accelerator=cpu"], run=False)
    assert cli.trainer.precision == "32-true" and cli.config.trainer.precision == "32-true"  # the saved config too
    assert cli.model.channels_last  # the rest of the recipe is unchanged
    with pytest.warns(UserWarning, match="emulated"):  # asked for on the command line: kept, with a warning
        insisted = main(["--trainer.logger=false", "--trainer.accelerator=cpu", "--trainer.precision=bf16-mixed"],
                        run=False)
    assert insisted.trainer.precision == "bf16-mixed"


def test_the_default_keeps_bf16_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(cpu_bf16, "native_bf16", lambda: True)
    cli = main(["--trainer.logger=false", "--trainer.accelerator=cpu"], run=False)
    assert cli.trainer.precision == "bf16-mixed"
