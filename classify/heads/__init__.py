"""Classifier heads: their settings and names (``_options``), the factory (``_heads``), default
grids (``_grids``), the head tables (``_head_tables``), featx's own estimators (``_estimators``)
and ensembles (``_ensemble``).

May import featx.common and featx.classify's top-level modules; never featx.classify.cv,
featx.classify.audits or featx.classify.transfer.
"""
