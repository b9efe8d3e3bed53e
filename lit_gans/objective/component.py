"""The base of the objective's parts (regularisers, augmentations): modules that describe themselves as plain data."""
import importlib
import inspect

import torch.nn as nn


class Component(nn.Module):
    """An `nn.Module` whose every init argument is stored as an attribute of the same name, so that `config()`
    rebuilds it: checkpoints keep {"class_path", "init_args"} dicts, never pickled objects."""

    def config(self) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self", "args", "kwargs")]
        return {"class_path": f"{type(self).__module__}.{type(self).__qualname__}",
                "init_args": {name: getattr(self, name) for name in names}}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config()["init_args"].items())


def build(component, base: type):
    """`component` itself, or the instance a {"class_path", "init_args"} dict describes; checked against `base`."""
    if isinstance(component, dict):
        if "class_path" not in component:
            raise ValueError(f"a {base.__name__} given as a dict needs a class_path, got {component}")
        module_name, _, class_name = component["class_path"].rpartition(".")
        component = getattr(importlib.import_module(module_name), class_name)(**component.get("init_args") or {})
    if not isinstance(component, base):
        raise TypeError(f"expected a {base.__name__}, got {type(component).__name__}")
    return component
