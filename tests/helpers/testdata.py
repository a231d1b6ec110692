"""Test data helpers shared by every test folder (``from helpers.testdata import ...``):
tiny real images (separable colour classes, PNG and JPEG), odd images, ../shared/data lookup."""

from __future__ import annotations

import io
import os
import struct

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
HYMENOPTERA = os.path.join(SHARED_DATA, "hymenoptera")

CLASS_COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (30, 40, 200)}


def shared_dataset(name: str) -> str:
    """Path of a dataset in ../shared/data; skip when absent unless FEATX_REQUIRE_SHARED is set."""
    path = os.path.join(SHARED_DATA, name)
    if not os.path.isdir(path):
        if os.environ.get("FEATX_REQUIRE_SHARED"):
            pytest.fail(f"{path} is missing and FEATX_REQUIRE_SHARED is set")
        pytest.skip(f"{path} not present")
    return path


def make_image(colour, size=(40, 32), seed=0, noise=25) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.array(colour, dtype=np.int16)[None, None, :]
    arr = base + rng.integers(-noise, noise + 1, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def write_colour_dataset(root, per_class: int = 6, classes=("red", "green", "blue"), size=(40, 32), seed=0) -> str:
    """Class folders of small noisy colour images; every third one is a JPEG, the rest PNG."""
    root = str(root)
    for c_idx, name in enumerate(classes):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            img = make_image(CLASS_COLOURS[name], size=size, seed=seed * 1000 + c_idx * 100 + i)
            ext = "jpg" if i % 3 == 0 else "png"
            img.save(os.path.join(root, name, f"{name}_{i:03d}.{ext}"))
    return root


def _png_16bit(size=(20, 10)) -> bytes:
    arr = (np.linspace(0, 65535, size[0] * size[1]).reshape(size[1], size[0])).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def write_odd_images(root) -> dict[str, bool]:
    """Odd but valid images (True) and broken files (False) in one flat folder."""
    root = str(root)
    os.makedirs(root, exist_ok=True)
    expect = {}

    def save(name, img, ok=True, **kw):
        img.save(os.path.join(root, name), **kw)
        expect[name] = ok

    save("gray.png", Image.new("L", (30, 20), 128))
    save("rgba.png", Image.new("RGBA", (30, 20), (255, 0, 0, 100)))
    save("palette.gif", Image.new("RGB", (30, 20), (0, 200, 0)).convert("P"))
    save("tiny_1x1.png", Image.new("RGB", (1, 1), (10, 20, 30)))
    save("wide_300x7.jpg", make_image((120, 60, 200), size=(300, 7)))
    save("cmyk.jpg", Image.new("CMYK", (24, 24), (0, 255, 255, 0)))
    save("photo.webp", make_image((90, 90, 10), size=(33, 21)))
    save("photo.tiff", make_image((90, 10, 90), size=(17, 23)))
    save("photo.bmp", make_image((10, 90, 90), size=(19, 19)))
    with open(os.path.join(root, "deep16.png"), "wb") as fh:
        fh.write(_png_16bit())
    expect["deep16.png"] = True
    exif_img = make_image((200, 120, 20), size=(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    exif_img.save(os.path.join(root, "exif_rotated.jpg"), exif=exif)
    expect["exif_rotated.jpg"] = True
    good = io.BytesIO()
    make_image((50, 50, 50), size=(64, 64)).save(good, format="JPEG")
    with open(os.path.join(root, "truncated.jpg"), "wb") as fh:
        fh.write(good.getvalue()[: len(good.getvalue()) // 2])
    expect["truncated.jpg"] = False
    with open(os.path.join(root, "text.png"), "w") as fh:
        fh.write("this is not an image\n")
    expect["text.png"] = False
    open(os.path.join(root, "empty.jpg"), "wb").close()
    expect["empty.jpg"] = False
    with open(os.path.join(root, "garbage.gif"), "wb") as fh:
        fh.write(b"GIF89a" + struct.pack("<HH", 10, 10) + os.urandom(40))
    expect["garbage.gif"] = False
    return expect


def cache_done_rows(path) -> int:
    """Rows a (possibly running) job has finished in the cache at ``path``; 0 while unreadable.
    Opened without HDF5 file locking, as a reader beside a writing job must."""
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(f["done"][:].sum())
    except Exception:  # noqa: BLE001 - not created yet, or caught mid-rename
        return 0


def child_pids(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc), e.g. a job's DataLoader workers."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":  # a zombie has exited already: nothing to kill
            kids.append(int(entry))
    return kids
