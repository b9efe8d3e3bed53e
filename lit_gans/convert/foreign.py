"""Reading other projects' weight files: clear errors for a missing, truncated or foreign file, and a key reader
that lists every key a conversion needed and did not find."""
import hashlib
from pathlib import Path

import torch


def load_foreign(path: str | Path, expected: str) -> dict:
    """torch.load(path) (weights only, on the CPU), or a ValueError naming the file and what was `expected`
    (e.g. "the pytorch_model.bin of pytorch-pretrained-biggan")."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (expected {expected})")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"{path} cannot be read as a PyTorch file: it is truncated or corrupt, or of another format "
                         f"(expected {expected}; torch.load said: {str(error).splitlines()[0]})") from None
    except Exception as error:  # pickle errors: not a torch file, or one holding arbitrary objects
        raise ValueError(f"{path} is not a PyTorch weights file (expected {expected}; torch.load said: "
                         f"{str(error).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds a {type(loaded).__name__}, not a dictionary of tensors (expected {expected})")
    return loaded


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class KeyReader:
    """Reads tensors from a foreign state dict by key, remembering the keys it did not find and those it never
    read, so that a conversion reports every problem at once (`check`)."""

    def __init__(self, state: dict, path: str | Path, expected: str):
        self.state, self.path, self.expected = state, Path(path), expected
        self.missing: list[str] = []
        self.used: set[str] = set()

    def __call__(self, key: str) -> torch.Tensor:
        if key not in self.state:
            self.missing.append(key)
            return torch.zeros(0)
        self.used.add(key)
        value = self.state[key]
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{self.path}: {key} is a {type(value).__name__}, not a tensor (expected {self.expected})")
        return value

    def __contains__(self, key: str) -> bool:
        return key in self.state

    def check(self) -> None:
        """Raise a ValueError listing the missing keys, and the unexpected ones (never read)."""
        unexpected = sorted(k for k in self.state if k not in self.used)
        if not self.missing and not unexpected:
            return
        problems = []
        if self.missing:
            problems.append(f"{len(self.missing)} missing keys: {listing(self.missing)}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys: {listing(unexpected)}")
        raise ValueError(f"{self.path} does not match {self.expected}: " + "; ".join(problems))


def listing(keys: list[str], limit: int = 12) -> str:
    return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def check_shapes(converted: dict[str, torch.Tensor], template: dict[str, torch.Tensor], path: str | Path,
                 hint: str) -> None:
    """Raise a ValueError listing every converted tensor whose shape differs from the freshly built network's."""
    wrong = [f"{k} {tuple(v.shape)} (the network has {tuple(template[k].shape)})" for k, v in converted.items()
             if k in template and v.shape != template[k].shape]
    if wrong:
        raise ValueError(f"the weights in {path} do not fit the network {hint}: {listing(wrong, 6)}")
