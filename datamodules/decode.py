"""Decoding one source image into a square uint8 array, tolerant of the odd files found in real datasets."""
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in pixels


def center_square(width: int, height: int) -> Box:
    """The centred square of side min(width, height)."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")  # "I": how Pillow holds 16-bit PNG and TIFF samples in 32 bits


def to_rgb(image: Image.Image) -> Image.Image:
    """Grayscale, CMYK, RGBA/LA, palette and 16-bit images -> 8-bit RGB.

    16-bit samples keep their top 8 bits (v // 256), whatever the image holds: the container's range, the same for
    every image, so two frames that differ in one pixel cache alike (12-bit data in 16-bit files therefore stays
    dark; rescale it before caching).
    """
    if image.mode in SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.int64).clip(0, 65535)
        image = Image.fromarray((values // 256).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def decode_square(source: str | Path | bytes, resolution: int, box: Box | None = None) -> tuple[np.ndarray | None, str]:
    """A file path or encoded bytes -> (uint8 (3, resolution, resolution), "") or (None, reason) when unreadable.

    Turns the image upright as its EXIF orientation says (photos from phones and cameras), crops `box` (default:
    the centred square of side min(H, W)), then resizes with Lanczos filtering.
    """
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.load()  # decode fully now: truncated files fail here, not later
            image = to_rgb(ImageOps.exif_transpose(image))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, UnidentifiedImageError) as error:
        return None, f"{type(error).__name__}: {error}"
    box = box or center_square(*image.size)
    if box[2] > image.width or box[3] > image.height:
        return None, f"crop {box} does not fit a {image.width}x{image.height} image"
    image = image.crop(box)
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.asarray(image).transpose(2, 0, 1).copy(), ""
