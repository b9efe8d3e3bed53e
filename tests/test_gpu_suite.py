"""The GPU suite's dry run: the same code as on a GPU, on the CPU with tiny shapes, so it cannot rot while no GPU is
at hand. Every check must pass and every timing must be a number."""
import json
import math

from benchmarks.gpu_suite import main


def test_gpu_suite_dry_run_passes_every_check_and_times_every_model(tmp_path):
    status = main(["--dry-run", "--out", str(tmp_path / "gpu.json"), "--markdown", str(tmp_path / "gpu.md")])
    report = json.loads((tmp_path / "gpu.json").read_text())
    assert report["dry_run"] and report["machine"]["torch"]
    checks = {(c["check"], c.get("model"), c.get("precision") or c.get("option")): c for c in report["checks"]}
    failed = [c for c in report["checks"] if not c["passed"]]
    assert not failed and status == 0, failed
    for model in ("SAGAN", "BigGAN", "BigGAN-deep", "ProGAN"):
        for precision in ("bf16-mixed", "16-mixed"):
            assert math.isfinite(sum(checks[("precision", model, precision)]["final_losses"]))
    assert "loss/ortho" in checks[("precision", "BigGAN", "16-mixed")]["terms"]
    assert checks[("precision", "BigGAN", "16-mixed")]["grad_scale"] > 0  # the GradScaler path ran
    assert checks[("precision", "BigGAN", "bf16-mixed")]["grad_scale"] is None
    assert "loss/gp" in checks[("precision", "ProGAN", "bf16-mixed")]["terms"]
    assert {c["check"] for c in report["checks"]} == {"precision", "sync_bn", "compile", "options", "fid_devices"}
    steps = [t for t in report["timings"] if t["timing"] == "train_step"]
    assert len(steps) == 8 and all(t["img_per_s"] > 0 for t in steps), steps
    kinds = {t["timing"] for t in report["timings"]}
    assert kinds == {"train_step", "mfu", "inception", "lightning_overhead"}
    assert "| BigGAN | bf16 |" in (tmp_path / "gpu.md").read_text()
