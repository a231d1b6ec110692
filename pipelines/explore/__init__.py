"""The interactive explorer (``featx explore`` and ``featx run``'s ``explore.html``): one offline
HTML page with a 2-D map of a layer's features on a canvas, linked to thumbnails, nearest
neighbours, filters on the audit's findings, a selection grid and a manifest export.

Modules: the map (``_map``: UMAP, t-SNE or PCA), the page's data (``_data``), thumbnails as
sprite sheets (``_sprites``), the page writer (``_page``, with ``explore.html``, ``explore.css``
and ``explore.js`` as package data) and the whole build (``_build``).

May import featx.common, the public featx.extract/featx.classify and featx.pipelines'
top-level modules; never featx.pipelines.commands, featx.pipelines.stages or featx.pipelines.report.
"""
