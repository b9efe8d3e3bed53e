"""The offline-install helper: what a node lacks, from its package list and pip's resolution report (no network)."""
import json

from lit_gans import offline


def test_installed_versions_read_pip_freeze_output():
    freeze = "torch==2.5.1\nPyTorch_Lightning==2.6.0  # note\n-e git+https://x/y#egg=z\n\nnumpy==2.0.0; python_version>'3'\n"
    assert offline.installed_versions(freeze) == {"torch": "2.5.1", "pytorch-lightning": "2.6.0", "numpy": "2.0.0"}
    pins = offline.constraints({"torch": "2.5.1", "lit-gans": "0.1.0"})
    assert pins == "torch==2.5.1\n"  # lit-gans itself is left free


def test_only_what_the_node_lacks_is_fetched(tmp_path):
    report = {"version": "1", "install": [
        {"metadata": {"name": "torch", "version": "2.5.1"}},          # the node has it: not fetched
        {"metadata": {"name": "Torch_Fidelity", "version": "0.4.0"}},  # missing
        {"metadata": {"name": "wandb", "version": "0.31.0"}},         # the node has another version
        {"metadata": {"name": "lit-gans", "version": "0.1.0"}},       # built from the source
    ]}
    node = {"torch": "2.5.1", "wandb": "0.19.0"}
    assert offline.lacking(report, node) == ["torch-fidelity==0.4.0", "wandb==0.31.0"]
    command = offline.download_command(["wandb==0.31.0"], tmp_path, ["--platform", "manylinux2014_x86_64"])
    assert command[-3:] == ["--platform", "manylinux2014_x86_64", "wandb==0.31.0"]
    assert "--no-deps" in command and "--only-binary=:all:" in command


def test_dry_run_prints_the_commands_and_weights_lists_the_locations(tmp_path, capsys):
    (tmp_path / "node.txt").write_text("torch==2.5.1\n")
    offline.main(["plan", "--installed", str(tmp_path / "node.txt"), "--out", str(tmp_path / "w"), "--dry-run",
                  "--python-version", "3.11"])
    printed = capsys.readouterr().out.splitlines()
    assert "--dry-run --ignore-installed" in printed[0] and "--report" in printed[0] and "3.11" in printed[0]
    assert printed[1].startswith(offline.sys.executable) and "download --no-deps" in printed[1]
    offline.main(["weights"])
    assert "weights-inception-2015-12-05-6726825d.pth" in capsys.readouterr().out


def test_the_report_format_is_pips(tmp_path):
    """A real `pip install --dry-run --report` of a local project with no dependencies, offline."""
    import subprocess

    project = tmp_path / "tiny"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "tiny-offline-check"\nversion = "1.2"\n'
                                            '[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                                            'backend-path = ["."]\n')
    (project / "backend.py").write_text(
        "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
        "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n"
        "    import os\n    d = os.path.join(metadata_directory, 'tiny_offline_check-1.2.dist-info')\n"
        "    os.makedirs(d)\n    open(os.path.join(d, 'METADATA'), 'w').write("
        "'Metadata-Version: 2.1\\nName: tiny-offline-check\\nVersion: 1.2\\n')\n"
        "    return 'tiny_offline_check-1.2.dist-info'\n")
    (tmp_path / "c.txt").write_text("")
    command = offline.resolve_command(str(project), tmp_path / "c.txt", tmp_path / "r.json", ["--no-index",
                                                                                              "--no-build-isolation"])
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert offline.lacking(report, {}) == ["tiny-offline-check==1.2"]
    assert offline.lacking(report, {"tiny-offline-check": "1.2"}) == []
