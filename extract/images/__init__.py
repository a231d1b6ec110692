"""Images in: sources (class folders, manifests: ``_sources``, ``_folders``), one decode path
(``_images``), the batched loading path built on it (``_loading``: decode, resize or augment,
collate), perceptual hashes and the pixel statistics of the audit (``_phash``, ``_pixstats``) and thumbnails (``_thumbs``).

May import featx.common and featx.extract._errors/_options/_preprocess; only ``_loading``
imports torch; never another sub-package of featx.extract.
"""
