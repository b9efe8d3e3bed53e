"""D's logits for any number of images, in forwards of the sizes D accepts.

A D with a minibatch standard deviation layer groups the images of a forward (`lit_gans.layers.minibatch_stddev`):
above `batch_multiple` images a forward must hold a multiple of it, as training batches do. A count that comes
from the data (53 training images, a held-out split of 17) is split here so that every image is scored inside a
full group of images of the same set.
"""
from typing import Iterator

import torch
import torch.nn as nn


def windows(n: int, batch_size: int, multiple: int = 1) -> Iterator[tuple[int, int, int]]:
    """Forwards (start, stop, keep) that score images 0..n-1 in order: each takes images [start, stop) and its last
    `keep` outputs are the next images' scores.

    A forward holds at most max(batch_size, multiple) images, and a multiple of `multiple` when it holds more.
    A remainder smaller than `multiple` is scored in one group with the images just before it, whose outputs are
    dropped. Fewer than `multiple` images in all are one forward (the layer then groups them all).
    """
    if n <= multiple:
        if n:
            yield 0, n, n
        return
    size = max(multiple, batch_size // multiple * multiple)
    done = 0
    while done < n:
        full = min(size, n - done) // multiple * multiple
        if full:
            yield done, done + full, full
            done += full
        else:
            yield n - multiple, n, n - done
            done = n


@torch.no_grad()
def discriminate(discriminator: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None,
                 batch_size: int = 256) -> torch.Tensor:
    """D's logits (N,) in float32 for images (N, 3, H, W) and labels (N,) (or None), in forwards of at most
    about `batch_size` images that D's `batch_multiple` (1 when it has none) accepts. D's mode is left as it is."""
    multiple = getattr(discriminator, "batch_multiple", 1)
    scores = [discriminator(images[start:stop], None if labels is None else labels[start:stop]).float()[-keep:]
              for start, stop, keep in windows(len(images), batch_size, multiple)]
    return torch.cat(scores) if scores else images.new_zeros(0, dtype=torch.float32)
