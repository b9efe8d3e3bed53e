"""Every recipe card (configs/<family>/<name>.card.yaml) against its recipe: each setting the reference's own files
state is either what the recipe runs, or a listed deviation with the value the recipe has and a reason.

A setting is checked one way: `config` (a path into the recipe YAML, or a product of paths: "a * b"; an argument
the recipe leaves out is its class's default), `absent` (a
path the recipe must not have, e.g. a callback the reference does not use), `default` ("model.<argument>": the
recipe leaves it at the model class's default) or `test` (a test of this suite that checks it, which must exist).
What the reference leaves open is listed under `unstated`: the path, the value the recipe runs and why it was chosen.
"""
import math
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from lit_gans.recipe_card import MISSING, checked_path, evaluate, lookup, markdown, page

CARDS = sorted((ROOT / "configs").rglob("*.card.yaml"))


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
    for section, keys in (("settings", {"reference", "source", "config", "absent", "default", "test", "covers"}),
                          ("deviations", {"reference", "ours", "reason"}), ("unstated", {"config", "ours", "reason"})):
        for name, entry in (card.get(section) or {}).items():  # an unquoted comma in a {...} entry makes a new key
            assert set(entry) <= keys, f"{section} {name}: unknown keys {set(entry) - keys} (quote the value)"
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
        ours = evaluate(config, checked_path(setting))
        assert ours is not MISSING, f"{name}: the recipe does not state {setting.get('config') or setting['default']}"
        if name in deviations:
            assert same(ours, deviations[name]["ours"]), f"{name}: the deviation says {deviations[name]['ours']}, " \
                                                        f"the recipe has {ours}"
            assert deviations[name].get("reason"), f"{name}: a deviation without a reason"
            assert "config" not in setting or not same(ours, setting["reference"]), \
                f"{name}: listed as a deviation, but the recipe runs the reference's value {ours!r}"
        elif not same(ours, setting["reference"]):
            problems.append(f"{name}: the reference has {setting['reference']!r} ({setting['source']}), the recipe "
                            f"{ours!r}, and the card lists no deviation")
    for name, deviation in deviations.items():
        assert {"reference", "ours", "reason"} <= set(deviation), f"deviation {name}: reference, ours and reason"
    for name, choice in (card.get("unstated") or {}).items():
        assert name not in card["settings"], f"{name}: the reference states it, so it is not unstated"
        assert choice.get("reason"), f"unstated {name}: say why the recipe chose its value"
        ours = evaluate(config, choice["config"])
        if not same(ours, choice["ours"]):
            problems.append(f"unstated {name}: the card says the recipe runs {choice['ours']!r}, it runs {ours!r}")
    # every model and data argument the recipe states is on the card: a setting added to the recipe cannot hide
    uncovered = sorted(set(stated_arguments(config)) - covered_paths(card))
    if uncovered:
        problems.append(f"the recipe states {uncovered}, which the card does not cover (a setting, unstated, or "
                        "`covers` of a setting that checks it)")
    assert not problems, "\n".join(problems)


def stated_arguments(config: dict) -> list[str]:
    """The model and data init arguments the recipe states (not where the data lies or how many workers read it)."""
    return [f"{section}.init_args.{key}" for section in ("model", "data")
            for key in ((config.get(section) or {}).get("init_args") or {})
            if key not in ("root", "num_workers", "cache_dir", "val_root")]


def covered_paths(card: dict) -> set[str]:
    """The recipe arguments a card's entries check, as `section.init_args.argument` (a path into a callback, or
    into an argument's own init_args, covers that argument)."""
    paths = set()
    for entry in [*card["settings"].values(), *(card.get("unstated") or {}).values()]:
        terms = [term.strip() for key in ("config", "absent") if key in entry for term in entry[key].split("*")]
        terms += [f"model.init_args.{entry['default'].split('.', 1)[1]}"] if "default" in entry else []
        terms += entry.get("covers") or []
        paths |= {".".join(re.sub(r"\[\w+\]", "", term).split(".")[:3]) for term in terms}
    return paths


def test_every_recipe_that_cites_a_reference_has_a_card():
    """A recipe whose header cites a paper (\"et al.\", arXiv) or a reference's code has a card; the digits recipes
    and CelebA 64 (a SAGAN setting no paper ran) cite none."""
    cites = re.compile(r"et al\.|arXiv|BigGAN-PyTorch|StudioGAN|sngan_projection|Theano|official code")
    cited = [p for p in sorted((ROOT / "configs").rglob("*.yaml")) if not p.name.endswith(".card.yaml")
             and cites.search(p.read_text().split("seed_everything")[0])]
    assert len(cited) >= 13
    missing = [str(p.relative_to(ROOT)) for p in cited if not p.with_name(p.stem + ".card.yaml").is_file()]
    assert not missing, f"recipes that cite a reference without a card: {missing}"


def test_the_docs_page_shows_every_card_as_it_is():
    text = (ROOT / "docs/recipe-cards.md").read_text()
    assert text == page(), "docs/recipe-cards.md is stale: python -m lit_gans.recipe_card > docs/recipe-cards.md"
    for path in CARDS:
        assert f"### {yaml.safe_load(path.read_text())['recipe']}" in text


def test_a_card_shows_the_reference_what_runs_and_each_deviation(tmp_path):
    """`lit-gans recipes NAME` from a folder outside the checkout prints the installed card."""
    done = subprocess.run([sys.executable, "-m", "lit_gans", "recipes", "biggan_deep/imagenet256"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("### biggan_deep/imagenet256")
    # the reference's value, its source, what runs: 2.5e-5 in both nets (the paper's Appendix C at 256 px)
    assert "| lr_d | 2.5e-05 | arXiv:1809.11096 Appendix C" in done.stdout and "| 2.5e-05 |" in done.stdout
    assert "| bn_eps | 0.0001 |" in done.stdout and "1e-05 (deviation) |" in done.stdout
    assert "Where the reference is silent:" in done.stdout and "**ema_start**: 20000." in done.stdout
    card = markdown(ROOT / "configs/sngan/cifar32.card.yaml")
    assert "| g_batch_size | 128 |" in card and card.count("\n| ") == len(yaml.safe_load(
        (ROOT / "configs/sngan/cifar32.card.yaml").read_text())["settings"]) + 1
    helped = subprocess.run([sys.executable, "-m", "lit_gans", "recipes", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: lit-gans recipes [NAME ...]")
    assert "| biggan/imagenet128 | BigGAN |" in helped.stdout
    wrong = subprocess.run([sys.executable, "-m", "lit_gans", "recipes", "biggan/imagenet1024"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1 and "biggan/imagenet128" in wrong.stderr
