"""Image-quality issues of the audit on generated images (each bad kind found, from the same
decode as the perceptual hash) and on real photos (none flagged), and in ``featx audit --json``."""

import json
import os

import numpy as np
import pytest
from PIL import Image, ImageFilter

from featx.classify import QualityThresholds, image_issues
from featx.extract import IMAGE_STAT_NAMES, scan_files

# hymenoptera photos none of whose statistics is near a threshold (measured: BENCHMARKS.md)
CLEAN = 30


def _real_photos(root):
    folder = os.path.join(root, "train", "bees")
    return [os.path.join("train", "bees", n) for n in sorted(os.listdir(folder))[:CLEAN]]


@pytest.fixture(scope="module")
def planted(shared_data, tmp_path_factory):
    """Real photos plus one generated image of each bad kind (most made from a real photo)."""
    src = shared_data("hymenoptera")
    out = tmp_path_factory.mktemp("quality")
    photos = _real_photos(src)
    names = []
    for i, p in enumerate(photos):
        with Image.open(os.path.join(src, p)) as im:
            im.convert("RGB").save(out / f"photo_{i:02d}.jpg", quality=92)
        names.append(f"photo_{i:02d}.jpg")
    with Image.open(os.path.join(src, photos[0])) as im:
        base = im.convert("RGB")
    arr = np.asarray(base, dtype=np.float64)
    bad = {
        "black.png": (Image.new("RGB", (300, 200), (0, 0, 0)), "blank"),
        "grey.png": (Image.new("RGB", (300, 200), (128, 128, 128)), "blank"),
        "blurred.jpg": (base.filter(ImageFilter.GaussianBlur(0.03 * max(base.size))), "blurry"),
        "tiny.png": (base.resize((40, 30)), "tiny"),
        "dark.jpg": (Image.fromarray((arr * 0.15).astype(np.uint8)), "dark"),
        "overexposed.jpg": (Image.fromarray((255 - (255 - arr) * 0.15).astype(np.uint8)), "overexposed"),
        "greyscale.jpg": (base.convert("L"), "grayscale"),
        "banner.jpg": (base.resize((1000, 120)), "odd_aspect_ratio"),
        "two_tone.png": (Image.fromarray(np.where(np.arange(300)[None, :, None] < 20, 0, 255)
                                         .repeat(200, 0).repeat(3, 2).astype(np.uint8)), "low_information"),
    }
    for name, (img, _) in bad.items():
        img.save(out / name, quality=90) if name.endswith(".jpg") else img.save(out / name)
    return str(out), names, {n: issue for n, (_, issue) in bad.items()}


def test_each_generated_bad_image_has_its_issue_and_photos_have_none(planted):
    root, photos, bad = planted
    paths = photos + list(bad)
    _, _, ok, stats = scan_files(paths, root)
    assert ok.all() and stats.shape == (len(paths), len(IMAGE_STAT_NAMES))
    found = {}
    for row, issue, score in image_issues(stats):
        found.setdefault(paths[row], set()).add(issue)
        assert np.isfinite(score)
    for name, issue in bad.items():
        assert issue in found.get(name, set()), (name, found.get(name))
    assert found["black.png"] == found["grey.png"] == {"blank"}  # not also dark, blurry, low information
    assert found["dark.jpg"] == {"dark"} and found["overexposed.jpg"] == {"overexposed"}  # not also blurry
    assert not {p: found[p] for p in photos if p in found}  # real photos: nothing


def test_grayscale_is_only_an_issue_in_a_colour_set(planted):
    root, photos, bad = planted
    _, _, _, stats = scan_files(["greyscale.jpg"] * 3 + photos[:2], root)
    assert not [x for x in image_issues(stats) if x[1] == "grayscale"]  # mostly grayscale: the set's look
    _, _, _, stats = scan_files(["greyscale.jpg"] + photos[:5], root)
    assert [(r, i) for r, i, _ in image_issues(stats) if i == "grayscale"] == [(0, "grayscale")]


def test_unreadable_rows_have_no_issues_and_thresholds_move_the_decision(planted, tmp_path):
    root, photos, bad = planted
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    _, _, ok, stats = scan_files([os.path.join(root, "tiny.png"), str(tmp_path / "broken.jpg")])
    assert ok.tolist() == [True, False] and np.isnan(stats[1]).all()
    assert [x[1] for x in image_issues(stats) if x[0] == 1] == []
    assert "tiny" in [x[1] for x in image_issues(stats)]
    assert "tiny" not in [x[1] for x in image_issues(stats, thresholds=QualityThresholds(tiny=20))]


def test_bad_stats_shape_is_refused():
    with pytest.raises(ValueError, match=r"stats must be \(n, 10\)"):
        image_issues(np.zeros((3, 4)))


def test_audit_json_lists_image_issues(planted, tmp_path, capsys):
    """A cache of a class-folder copy of the planted set: featx audit --json has each bad image."""
    import shutil

    from featx.extract import extract
    from featx.pipelines.cli import main

    root, photos, bad = planted
    src = tmp_path / "set"
    for cls, names in (("a", photos[::2] + list(bad)[::2]), ("b", photos[1::2] + list(bad)[1::2])):
        os.makedirs(src / cls)
        for n in names:
            shutil.copy(os.path.join(root, n), src / cls / n)
    cache = str(tmp_path / "q.h5")
    extract(str(src), cache, weights="none", workers=0, layers=["global_pool"], progress=False)
    out = tmp_path / "audit.json"
    assert main(["audit", cache, "--folds", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rec = json.loads(out.read_text())
    got = {(os.path.basename(x["path"]), x["issue"]) for x in rec["image_issues"]}
    assert set(bad.items()) <= got
    assert not [x for x in rec["image_issues"] if os.path.basename(x["path"]).startswith("photo_")]
    assert f"image issues: {len(rec['image_issues'])}" in printed
    assert main(["audit", cache, "--folds", "2", "--no-image-hashes"]) == 0
    assert "image-quality issues unavailable" in capsys.readouterr().out


def test_dark_or_low_contrast_but_sharp_images_are_not_blurry(planted, tmp_path):
    """The blur statistic is contrast-normalised: a sharp photo darkened (x0.15) or flattened
    (x0.25 + 95) keeps its sharpness, while the same photo blurred is still blurry."""
    root, photos, bad = planted
    with Image.open(os.path.join(root, photos[3])) as im:
        base = im.convert("RGB")
    arr = np.asarray(base, dtype=np.float64)
    made = {"dark_sharp.jpg": Image.fromarray((arr * 0.15).astype(np.uint8)),
            "flat_sharp.jpg": Image.fromarray((arr * 0.25 + 95).astype(np.uint8)),
            "blurred.jpg": base.filter(ImageFilter.GaussianBlur(0.03 * max(base.size))),
            "sharp.jpg": base}
    for name, img in made.items():
        img.save(tmp_path / name, quality=90)
    names = list(made)
    _, _, ok, stats = scan_files(names, str(tmp_path))
    assert ok.all()
    blurry = {names[r] for r, issue, _ in image_issues(stats) if issue == "blurry"}
    assert blurry == {"blurred.jpg"}
    blur = dict(zip(names, stats[:, IMAGE_STAT_NAMES.index("blur")]))
    # contrast changes move the statistic far less than a blur does
    assert blur["dark_sharp.jpg"] > 3 * blur["blurred.jpg"] and blur["flat_sharp.jpg"] > 3 * blur["blurred.jpg"]
    assert 0.5 < blur["flat_sharp.jpg"] / blur["sharp.jpg"] < 2
    assert "dark" in {i for r, i, _ in image_issues(stats) if names[r] == "dark_sharp.jpg"}
