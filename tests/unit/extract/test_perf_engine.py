"""The fast paths of the extraction engine give exactly what the plain paths give."""

import numpy as np
import torch

from featx.extract import extract, read_cache
from featx.extract.images._loading import collate as _collate
from featx.extract._preprocess import Preprocessing


def test_collate_stacks_hwc_arrays_into_a_channels_last_nchw_batch():
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (8, 6, 3), dtype=np.uint8) for _ in range(3)]
    items = [(0, arrays[0], "h0", ""), (1, None, "h1", "bad"), (2, arrays[1], "h2", ""), (3, arrays[2], "h3", "")]
    rows, images, hashes, bad_rows, bad_hashes, reasons = _collate(items)
    assert rows.tolist() == [0, 2, 3] and hashes == ["h0", "h2", "h3"]
    assert bad_rows.tolist() == [1] and bad_hashes == ["h1"] and reasons == ["bad"]
    assert images.shape == (3, 3, 8, 6) and images.dtype == torch.uint8
    assert images.is_contiguous(memory_format=torch.channels_last)
    expected = torch.stack([torch.from_numpy(a).permute(2, 0, 1) for a in arrays])
    assert torch.equal(images, expected)
    assert _collate([(5, None, "", "unreadable")])[1] is None


def test_normalize_is_bitwise_the_textbook_formula_and_keeps_the_layout():
    pre = Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    batch = torch.randint(0, 256, (4, 3, 10, 12), dtype=torch.uint8)
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(pre.std).view(1, 3, 1, 1) * 255.0
    expected = (batch.float() - mean) / std
    assert torch.equal(pre.normalize(batch), expected)
    cl = batch.contiguous(memory_format=torch.channels_last)
    out = pre.normalize(cl)
    assert torch.equal(out, expected) and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch, cl)  # the input is left alone


def test_worker_processes_and_in_process_loading_give_identical_caches(colour_dataset, tmp_path):
    a, b = str(tmp_path / "w0.h5"), str(tmp_path / "w2.h5")
    kw = dict(weights="none", batch_size=5, layers="blocks.3,penultimate", progress=False)
    extract(colour_dataset, a, workers=0, **kw)
    extract(colour_dataset, b, workers=2, **kw)
    ca, cb = read_cache(a), read_cache(b)
    assert list(ca.hashes) == list(cb.hashes)
    for layer in ca.features:
        np.testing.assert_array_equal(ca.features[layer], cb.features[layer])
