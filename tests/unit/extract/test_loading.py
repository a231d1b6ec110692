"""The one image-loading path: extraction, fine-tuning and prediction share the dataset, the
collation, the loader and the worker policy."""

import numpy as np
import torch

from featx.extract import Preprocessing, open_source
from featx.extract.images import _loading
from featx.extract.finetune import _data


def _augmented(colour_dataset, seed=5):
    table = open_source(colour_dataset)
    files = [table.absolute(i) for i in range(len(table))]
    pre = Preprocessing(crop_size=32, resize_size=36)
    return _data.ImageRows(files, table.labels, _data.train_transform(pre, True), None, seed=seed)


def _batches(loader):
    return [(images.contiguous(), labels, bad) for images, labels, bad in loader]


def test_augmentation_is_the_same_in_threads_worker_processes_and_item_by_item(colour_dataset):
    ds = _augmented(colour_dataset)
    ds.epoch = 2
    batches = _data.epoch_batches(len(ds), 4, 5, 2)
    before = torch.random.get_rng_state()
    threaded = _batches(_data.make_loader(ds, batches, 0, False))  # in-process decoding threads
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's generator is left alone
    processes = _batches(_data.make_loader(ds, batches, 2, False))
    assert len(threaded) == len(processes) == len(batches)
    for (a, la, fa), (b, lb, fb), batch in zip(threaded, processes, batches):
        assert torch.equal(a, b) and torch.equal(la, lb) and fa == fb == []
        assert la.tolist() == ds.labels[batch].tolist()
        one_by_one = torch.stack([torch.from_numpy(np.array(ds[i][1])).permute(2, 0, 1) for i in batch])
        assert torch.equal(a, one_by_one)
    ds.epoch = 3  # another epoch, other crops
    again = _batches(_data.make_loader(ds, batches, 0, False))
    assert not all(torch.equal(a, b) for (a, _, _), (b, _, _) in zip(threaded, again))


def test_batches_are_channels_last_uint8_and_failures_carry_positions(colour_dataset, tmp_path):
    ds = _augmented(colour_dataset, seed=None)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    ds.files[3] = str(bad)
    (images, labels, failed), *_ = _data.make_loader(ds, [[0, 1, 2, 3]], 0, False)
    assert images.shape == (3, 3, 32, 32) and images.dtype == torch.uint8
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert len(labels) == 3 and failed == [(3, "not a recognised image format (or a damaged header)")]


def test_cpu_decodes_in_process_gpu_uses_worker_processes_for_every_job():
    assert _data.default_workers is _loading.default_workers
    assert _loading.default_workers(5000, 64, torch.device("cpu")) == 0
    assert _loading.default_workers(5000, 64, "cpu") == 0
    assert 1 <= _loading.default_workers(5000, 64, torch.device("cuda")) <= _loading.MAX_WORKERS
    assert _loading.default_workers(64, 64, torch.device("cuda")) == 0  # one batch: no pool to start


def test_blocks_follow_the_row_space():
    pending = np.array([0, 1, 2, 5, 6, 9, 13])
    assert _loading.blocks(pending, 4) == [[0, 1, 2], [5, 6], [9], [13]]
    assert _loading.blocks(np.array([], dtype=np.int64), 4) == []
