"""Every recipe card (configs/<family>/<name>.card.yaml) against its recipe: each setting the reference's own files
state is either what the recipe runs, or a listed deviation with the value the recipe has and a reason.

A setting is checked one way: `config` (a path into the recipe YAML, or a product of paths: "a * b"; an argument
the recipe leaves out is its class's default), `absent` (a
path the recipe must not have, e.g. a callback the reference does not use), `default` ("model.<argument>": the
recipe leaves it at the model class's default) or `test` (a test of this suite that checks it, which must exist).
"""
import importlib
import inspect
import math
import re

import pytest
import yaml

from conftest import ROOT

CARDS = sorted((ROOT / "configs").rglob("*.card.yaml"))
MISSING = object()


def lookup(config: dict, path: str):
    """A value of the recipe by dotted path; `callbacks[Name]` picks the callback whose class is Name. An argument
    that a class's init_args leave out is that class's default (the value that runs)."""
    value, owner = config, None
    for part in path.split("."):
        match = re.fullmatch(r"(\w+)\[(\w+)\]", part)
        key = match.group(1) if match else part
        if not isinstance(value, dict):
            return MISSING
        if key not in value:
            return class_default(owner, key) if owner is not None else MISSING
        owner = value.get("class_path") if key == "init_args" else None
        value = value[key]
        if match:
            found = [c for c in value if isinstance(c, dict) and c.get("class_path", "").split(".")[-1] == match.group(2)]
            if not found:
                return MISSING
            value = found[0]
    return value


def evaluate(config: dict, expression: str):
    """A path, or a product of paths."""
    values = [lookup(config, term.strip()) for term in expression.split("*")]
    if any(v is MISSING for v in values):
        return MISSING
    return math.prod(values) if len(values) > 1 else values[0]


def class_default(class_path: str, argument: str):
    """The default of `argument` in the class `class_path` names (or the first base class that takes it)."""
    module, name = class_path.rsplit(".", 1)
    for cls in getattr(importlib.import_module(module), name).__mro__:
        parameters = inspect.signature(cls.__init__).parameters
        if argument in parameters and parameters[argument].default is not inspect.Parameter.empty:
            return parameters[argument].default
    return MISSING


def same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


def test_there_are_cards():
    assert CARDS, "no recipe cards found"


@pytest.mark.parametrize("path", CARDS, ids=[str(p.relative_to(ROOT / "configs")) for p in CARDS])
def test_the_recipe_runs_what_its_card_says_or_lists_why_not(path):
    card = yaml.safe_load(path.read_text())
    assert path.name == f"{card['recipe'].split('/')[-1]}.card.yaml" and path.parent.name == card["recipe"].split("/")[0]
    config = yaml.safe_load((ROOT / "configs" / f"{card['recipe']}.yaml").read_text())  # the checkout's recipe
    deviations = card.get("deviations") or {}
    problems = []
    for name, setting in card["settings"].items():
        assert setting.get("source"), f"{name}: no source (file and line of the reference)"
        ways = [key for key in ("config", "absent", "default", "test") if key in setting]
        assert len(ways) == 1, f"{name}: check it exactly one way (config, absent, default or test), got {ways}"
        if "test" in setting:
            file, _, function = setting["test"].partition("::")
            text = (ROOT / file).read_text()
            assert not function or f"def {function}(" in text, f"{name}: {setting['test']} does not exist"
            continue
        if "absent" in setting:
            if lookup(config, setting["absent"]) is not MISSING and name not in deviations:
                problems.append(f"{name}: the reference has {setting['reference']}, the recipe has {setting['absent']}")
            continue
        # `default: model.<argument>`: what runs, which is the class's default unless the recipe states the argument
        path = f"model.init_args.{setting['default'].split('.', 1)[1]}" if "default" in setting else setting["config"]
        ours = evaluate(config, path)
        assert ours is not MISSING, f"{name}: the recipe does not state {setting.get('config') or setting['default']}"
        if name in deviations:
            assert same(ours, deviations[name]["ours"]), f"{name}: the deviation says {deviations[name]['ours']}, " \
                                                        f"the recipe has {ours}"
            assert deviations[name].get("reason"), f"{name}: a deviation without a reason"
        elif not same(ours, setting["reference"]):
            problems.append(f"{name}: the reference has {setting['reference']!r} ({setting['source']}), the recipe "
                            f"{ours!r}, and the card lists no deviation")
    for name, deviation in deviations.items():
        assert {"reference", "ours", "reason"} <= set(deviation), f"deviation {name}: reference, ours and reason"
    assert not problems, "\n".join(problems)
