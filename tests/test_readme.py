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


def test_readme_python_example_is_the_default_recipe():
    """Every setting of configs/sagan/digits.yaml (model, data, precision, callbacks) appears in the plain-Python run
    with the same value, so the two cannot drift apart."""
    import ast

    import yaml

    recipe = yaml.safe_load((README.parent / "configs/sagan/digits.yaml").read_text())
    def literal(node):
        try:
            return ast.literal_eval(node)
        except ValueError:
            return node  # an object built in place (a logger, a callback list): not a setting

    calls = {}
    for node in ast.walk(ast.parse(python_example())):
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            calls.setdefault(name, []).append({k.arg: literal(k.value) for k in node.keywords})

    def as_lists(value):
        return [as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value

    def assert_built_with(class_path, init_args):
        name = class_path.rsplit(".", 1)[1]
        assert name in calls, f"the README example does not build {name}"
        assert any(all(as_lists(kwargs.get(k)) == as_lists(v) for k, v in init_args.items()) for kwargs in calls[name]), \
            f"the README builds {name} with {calls[name]}, the default config with {init_args}"

    for section in ("model", "data"):
        assert_built_with(recipe[section]["class_path"], recipe[section]["init_args"])
    for callback in recipe["trainer"]["callbacks"]:
        assert_built_with(callback["class_path"], callback.get("init_args", {}))
    assert_built_with("pytorch_lightning.Trainer", {"precision": recipe["trainer"]["precision"]})
