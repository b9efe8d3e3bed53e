import pytest
import torch

from lit_gans.networks.sagan import RESOLUTIONS, SAGANDiscriminator, SAGANGenerator


def count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("num_classes", [0, 5])
def test_forward_backward_shapes(resolution, num_classes):
    attn_res = min(resolution // 2, 16)  # attention memory grows with (H W)^2: keep it small on CPU
    G = SAGANGenerator(resolution, z_dim=8, ch=8, num_classes=num_classes, attn_res=attn_res)
    D = SAGANDiscriminator(resolution, ch=8, num_classes=num_classes, attn_res=attn_res)
    y = torch.tensor([0, 4]) if num_classes else None
    images = G(torch.randn(2, 8), y)
    assert images.shape == (2, 3, resolution, resolution)
    assert images.abs().max() <= 1
    logits = D(images, y)
    assert logits.shape == (2,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad and p.dim() > 1)


def test_sagan_128_parameter_counts_match_reference():
    """BigGAN-PyTorch's SA-GAN recipe: ch 64, z 128, 1000 classes, attention at 64 (reference/biggan.md §3.3)."""
    G = SAGANGenerator(128, z_dim=128, ch=64, num_classes=1000, attn_res=64)
    D = SAGANDiscriminator(128, ch=64, num_classes=1000, attn_res=64)
    assert count(G) == 42_017_412
    assert count(D) == 39_448_258


def test_spectral_norm_on_every_layer_but_class_gains():
    G = SAGANGenerator(32, z_dim=8, ch=8, num_classes=3, attn_res=16)
    D = SAGANDiscriminator(32, ch=8, num_classes=3, attn_res=16)
    for network, expect_embeddings in ((G, False), (D, True)):
        for name, module in network.named_modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) or (expect_embeddings and isinstance(module, torch.nn.Embedding)):
                assert hasattr(module, "parametrizations"), name
    assert not hasattr(G.blocks[0].norm1.gain, "parametrizations")


def test_unsupported_resolution_lists_supported_ones():
    with pytest.raises(ValueError, match=r"supports resolutions \(16, 32, 64, 128, 256, 512\)"):
        SAGANGenerator(48)
    with pytest.raises(ValueError, match="resolutions"):
        SAGANDiscriminator(1024)


def test_attention_resolution_must_be_a_block_size():
    with pytest.raises(ValueError, match="attention resolution 7"):
        SAGANDiscriminator(32, ch=8, attn_res=7)
    assert not any(type(b).__name__ == "SelfAttention" for b in SAGANGenerator(32, ch=8, attn_res=0).blocks)
