"""The paper recipes as LightningCLI configs, one YAML per recipe, shipped inside the package.

`lit-gans fit` with no --config runs `sagan/digits.yaml`; `lit-gans fit --config configs/biggan/digits.yaml` reads
a file from a checkout, and `recipe("biggan/digits")` finds the installed copy of a recipe from anywhere.
"""
from importlib.resources import files
from pathlib import Path

DEFAULT = "sagan/digits"
CARD = ".card.yaml"  # a recipe's card: the reference's settings, with file and line (tests/test_recipe_cards.py)


def recipes() -> list[Path]:
    """Every installed recipe file (not the cards beside them)."""
    return sorted(p for p in Path(str(files(__name__))).rglob("*.yaml") if not p.name.endswith(CARD))


def recipe(name: str = DEFAULT) -> Path:
    """Path of the installed recipe `name` (e.g. "biggan/cifar32", with or without ".yaml")."""
    root = Path(str(files(__name__)))
    path = root / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        known = [str(p.relative_to(root).with_suffix("")) for p in recipes()]
        raise FileNotFoundError(f"no recipe {name!r}; the recipes are {known}")
    return path
