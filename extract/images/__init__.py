"""Images in: sources (class folders, manifests: ``_sources``, ``_folders``), one decode path
(``_images``), the batched loading path built on it (``_loading``: decode, resize or augment,
collate), perceptual hashes and the pixel statistics of the audit (``_phash``, ``_pixstats``) and thumbnails (``_thumbs``).

May import featx.common and featx.extract._errors/_options/_preprocess; only ``_loading``
imports torch; never another sub-package of featx.extract.
"""

from featx.common.lazy import lazy_names

# public name -> module of this sub-package, imported on first use
_LAZY = {
    "DEFAULT_MAX_PIXELS": "_images",
    "IMAGE_STAT_NAMES": "_pixstats",
    "decode_rgb": "_images",
    "phash_files": "_phash",
    "scan_files": "_phash",
    "thumbnail_jpeg": "_thumbs",
    "write_image_folder": "_folders",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
