"""Recipe cards: `configs/<family>/<name>.card.yaml`, what a reference's own files state beside the recipe that
claims to reproduce it.

A card lists `settings` (each with the reference's value, its `source` as file and line, and one way to check it:
`config`, a path into the recipe or a product of paths "a * b"; `absent`, a path the recipe must not have;
`default`, "model.<argument>" left at the class's default; or `test`, a test that checks it), `deviations` (the
value the recipe runs instead, and why) and `unstated` (what the reference leaves open, and what the recipe chose).
tests/test_recipe_cards.py holds every recipe to its card; `lit-gans recipes NAME` and docs/recipe-cards.md show it.
"""
from __future__ import annotations

import importlib
import inspect
import math
import re
from pathlib import Path

import yaml

import configs

MISSING = object()  # a path the recipe does not state and no class default fills


def card_path(name: str) -> Path:
    """The installed card of recipe `name` ("biggan/imagenet128", with or without ".yaml")."""
    recipe = configs.recipe(name)
    return recipe.with_name(recipe.stem + configs.CARD)


def cards() -> list[Path]:
    """Every installed card."""
    return sorted(p.with_name(p.stem + configs.CARD) for p in configs.recipes()
                  if p.with_name(p.stem + configs.CARD).is_file())


def lookup(recipe: dict, path: str):
    """A value of the recipe by dotted path; `callbacks[Name]` picks the callback whose class is Name. An argument
    that a class's init_args leave out is that class's default (the value that runs)."""
    value, owner = recipe, None
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


def follows_the_data(recipe: dict, path: str):
    """The model's resolution and num_classes where the recipe leaves them to the data, as the CLI sets them
    (`GANCLI.follow_the_data`); MISSING for any other path or a value the recipe states."""
    argument = path.removeprefix("model.init_args.")
    if argument not in ("resolution", "num_classes") or argument in ((recipe.get("model") or {}).get("init_args") or {}):
        return MISSING
    data = recipe.get("data") or {}
    init_args = data.get("init_args") or {}
    if argument == "resolution":
        return init_args.get("resolution", MISSING)
    module, name = data.get("class_path", ".").rsplit(".", 1)
    declared = getattr(importlib.import_module(module), name).declared_classes(**init_args)
    return MISSING if declared is None else declared


def evaluate(recipe: dict, expression: str):
    """A path, or a product of paths ("data.init_args.batch_size * model.init_args.accumulate"): what runs."""
    values = [follows_the_data(recipe, term.strip()) for term in expression.split("*")]
    values = [lookup(recipe, term.strip()) if value is MISSING else value
              for term, value in zip(expression.split("*"), values)]
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


def checked_path(setting: dict) -> str | None:
    """The recipe path a `config` or `default` setting names (None for `absent` and `test`)."""
    if "default" in setting:
        return f"model.init_args.{setting['default'].split('.', 1)[1]}"
    return setting.get("config")


def runs(recipe: dict, setting: dict) -> str:
    """What the recipe runs for one card setting, in words."""
    if "test" in setting:
        return f"checked by {setting['test'].split('::')[-1]}"
    if "absent" in setting:
        return "absent" if lookup(recipe, setting["absent"]) is MISSING else "present"
    value = evaluate(recipe, checked_path(setting))
    return "not stated" if value is MISSING else str(value)


def cell(value) -> str:
    """A Markdown table cell: a "|" would end it."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(path: Path) -> str:
    """One card as a Markdown section: reference, what is followed, and a table of every setting with its source,
    then the deviations and the choices where the reference is silent."""
    card = yaml.safe_load(path.read_text())
    recipe = yaml.safe_load(configs.recipe(card["recipe"]).read_text())
    deviations, unstated = card.get("deviations") or {}, card.get("unstated") or {}
    lines = [f"### {card['recipe']}", "", f"Reference: {card['reference']}", "", f"Follows: {card['follows']}", "",
             "| setting | reference | source | lit-gans |", "|---|---|---|---|"]
    for name, setting in card["settings"].items():
        ours = runs(recipe, setting) + (" (deviation)" if name in deviations else "")
        lines.append("| " + " | ".join(cell(v) for v in (name, setting["reference"], setting["source"], ours)) + " |")
    if deviations:
        lines += ["", "Deviations:", ""]
        lines += [f"- **{name}**: the reference has {d['reference']}; lit-gans runs {d['ours']}. {d['reason']}"
                  for name, d in deviations.items()]
    if unstated:
        lines += ["", "Where the reference is silent:", ""]
        lines += [f"- **{name}**: {u['ours']}. {u['reason']}" for name, u in unstated.items()]
    return "\n".join(lines)


def page() -> str:
    """docs/recipe-cards.md: every card."""
    head = ("# Recipe cards\n\nEach recipe that names a published reference has a card beside it "
            "(`configs/<family>/<name>.card.yaml`): the reference's settings with file and line, what lit-gans runs, "
            "and every deviation with its reason. `tests/test_recipe_cards.py` fails on any difference a card does "
            "not list. `lit-gans recipes NAME` prints one card.\n\nGenerated by `python -m lit_gans.recipe_card`.\n")
    return head + "".join(f"\n{markdown(path)}\n" for path in cards())


if __name__ == "__main__":
    print(page(), end="")
