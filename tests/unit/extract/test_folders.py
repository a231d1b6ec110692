"""write_image_folder: pixel arrays as an image-folder source that open_source reads back."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from featx.extract import open_source, write_image_folder


def test_arrays_become_class_folders_read_back_pixel_for_pixel(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    folder = write_image_folder(str(tmp_path / "src"), grey, ["a", "b", "a"])
    assert sorted(os.listdir(folder)) == ["a", "b"] and sorted(os.listdir(tmp_path / "src" / "a")) == ["0000.png", "0002.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "src" / "a" / "0002.png")), grey[2])
    table = open_source(folder)
    assert table.class_names == ["a", "b"] and len(table.paths) == 3


def test_names_and_nearest_neighbour_size(tmp_path):
    rgb = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    rgb[0, 0, 0] = (255, 0, 0)
    write_image_folder(str(tmp_path), rgb, [7], names=["x.png"], size=4)
    pixels = np.asarray(Image.open(tmp_path / "7" / "x.png"))
    assert pixels.shape == (4, 4, 3)
    assert (pixels[:2, :2] == (255, 0, 0)).all() and (pixels[2:, :] == 0).all()
    assert not [f for f in os.listdir(tmp_path / "7") if f != "x.png"]  # no temporaries left
