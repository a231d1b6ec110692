"""Images in: sources (class folders, manifests: ``_sources``, ``_folders``), one decode path
(``_images``), the batched loading path built on it (``_loading``: decode, resize or augment,
collate), perceptual hashes and the pixel statistics of the audit (``_phash``, ``_pixstats``) and thumbnails (``_thumbs``).

May import featx.common and featx.extract._errors/_options/_preprocess; only ``_loading``
imports torch; never another sub-package of featx.extract.
"""

from featx.common.lazy import lazy_exports

# public names by module (in this sub-package), imported on first use
__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), """
    _folders: write_image_folder
    _images: DEFAULT_MAX_PIXELS decode_rgb
    _phash: phash_files scan_files
    _pixstats: IMAGE_STAT_NAMES
    _thumbs: thumbnail_jpeg
""")
