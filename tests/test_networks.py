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


def test_minibatch_stddev_option_of_the_projection_discriminator():
    """mbstd_group_size adds one feature map (the group's spread) to the last D block's input: one more input
    channel there, a D whose scores depend on the rest of the batch, and separate forwards of reals and fakes."""
    from lit_gans.networks.sagan import SAGANDiscriminator

    plain = SAGANDiscriminator(16, ch=4, num_classes=10, attn_res=8)
    torch.manual_seed(0)
    with_std = SAGANDiscriminator(16, ch=4, num_classes=10, attn_res=8, mbstd_group_size=4)
    last = with_std.blocks[-1]
    assert last.conv1.in_channels == plain.blocks[-1].conv1.in_channels + 1
    assert with_std.batch_dependent and not getattr(plain, "batch_dependent", False)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(10, (8,))
    other = x.clone()
    other[3] = 0  # groups are strided: {0, 2, 4, 6} and {1, 3, 5, 7}; change one image of the second
    plain.eval(), with_std.eval()  # no power iteration between the forwards
    with torch.no_grad():
        a, b = with_std(x, y), with_std(other, y)
        p, q = plain(x, y), plain(other, y)
    assert torch.allclose(a[0::2], b[0::2])  # the other group does not see it
    assert not torch.allclose(a[1], b[1])  # image 1 is unchanged, but its group's spread is not
    assert torch.allclose(p[1], q[1])  # without the option, D scores every image on its own


def test_class_minibatch_stddev_groups_the_images_of_a_class():
    """mbstd_style "class": an image's group is the images of its class in the batch, so changing one image moves
    the scores of its classmates only."""
    from lit_gans.networks.sagan import SAGANDiscriminator

    D = SAGANDiscriminator(16, ch=4, num_classes=10, attn_res=8, mbstd_group_size=4, mbstd_style="class").eval()
    x, y = torch.randn(8, 3, 16, 16), torch.tensor([0, 1, 0, 1, 2, 2, 3, 3])
    other = x.clone()
    other[0] = 0
    with torch.no_grad():
        a, b = D(x, y), D(other, y)
    assert torch.allclose(a[y != 0], b[y != 0]) and not torch.allclose(a[2], b[2])
