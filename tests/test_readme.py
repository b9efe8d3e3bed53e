import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_example() -> str:
    text = README.read_text()
    match = re.search(r"<!-- readme-python-example -->\n```python\n(.*?)```", text, re.S)
    assert match, "README lost its Python example"
    return match.group(1)


def test_readme_quick_start_has_exactly_two_commands():
    quick_start = README.read_text().split("## Quick start")[1].split("\n## ")[0]
    commands = re.findall(r"```bash\n(.*?)```", quick_start, re.S)
    assert [c.strip() for c in commands] == ["pip install . && lit-gans fit", 'pip install ".[test]" && python -m pytest']


def test_readme_python_example_runs(monkeypatch):
    """The README's plain-Python run, shortened to a few generator steps and a smaller quality check."""
    code = python_example()
    short = re.sub(r"StopAt\(kimg=[0-9.]+\)", "StopAt(g_steps=3)", code)
    short = short.replace("DigitsQuality(every_n_g_steps=200)", "DigitsQuality(every_n_g_steps=2, per_class=20)")
    assert short.count("g_steps=3") == 1 and "per_class=20" in short
    monkeypatch.setenv("WANDB_MODE", "offline")
    namespace = {}
    exec(compile(short, str(README), "exec"), namespace)
    assert namespace["quality"].last["g_step"] == 3
    assert namespace["sevens"].shape == (16, 3, 16, 16)
    assert list(Path("runs").rglob("samples/last.png"))
