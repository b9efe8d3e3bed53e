"""Where lit-gans keeps what it computes once and reuses (image caches, real-image statistics, converted weights),
and the fingerprints that name those files."""
import hashlib
import json
import os
from pathlib import Path

FINGERPRINT_VERSION = 1


def default_cache_dir() -> Path:
    """$LIT_GANS_CACHE, else $XDG_CACHE_HOME/lit-gans, else ~/.cache/lit-gans (never the working directory)."""
    if os.environ.get("LIT_GANS_CACHE"):
        return Path(os.environ["LIT_GANS_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "lit-gans"


def fingerprint(*parts) -> str:
    """A short stable hash of JSON-serialisable parts (source identity and preprocessing settings)."""
    text = json.dumps([FINGERPRINT_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
