"""The paper recipes as LightningCLI configs, one YAML per recipe, shipped inside the package.

`lit-gans fit` with no --config runs `sagan/digits.yaml`. `--config configs/biggan/digits.yaml` (or
`biggan/digits`) reads that file where it exists, and otherwise the installed recipe of that name (`installed`), so
the README's commands work from any folder; `recipe("biggan/digits")` finds the installed copy from Python.
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


def installed(value: str) -> Path | None:
    """The installed recipe that a --config value names when no such file exists here: "configs/biggan/cifar32.yaml",
    "biggan/cifar32.yaml" or "biggan/cifar32"; None when the file exists (a local file always wins) or no recipe has
    that name."""
    try:
        if Path(value).expanduser().exists():
            return None
    except (OSError, ValueError):  # not a path at all: an inline config string
        return None
    name = value.removeprefix("./").removeprefix("configs/")
    path = Path(str(files(__name__))) / (name if name.endswith(".yaml") else f"{name}.yaml")
    return path if path.is_file() and not path.name.endswith(CARD) else None
