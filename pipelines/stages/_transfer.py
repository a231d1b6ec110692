"""The transfer study of a ``[finetune]`` section: frozen features, each fine-tuning strategy's own
head, the classical heads on each fine-tuned checkpoint's features, and scratch, all scored on the
same held-out rows (featx.classify's :func:`holdout_splits`), optionally at several training
fractions.

Every unit of work (one head on one split, one fine-tune on one split) is stored in
``<output>/transfer-cache`` under a key of everything that shapes it; checkpoints live in
``<output>/transfer`` named by the key of their training (source rows, settings, strategy), and a
killed fine-tune resumes from its last epoch. A rerun recomputes nothing that finished; adding a
strategy trains only that strategy.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from featx.pipelines.stages._keys import cv_key, digest
from featx.pipelines.stages._stages import ResultCache

_UNIT_VERSION = 1


def run_transfer(spec, feature_sets, stages, progress: bool, caught: list) -> dict:
    """Per source: the ``transfer`` records (fraction 1), the data-efficiency points, the held-out
    description, the training histories and the verdict."""
    from featx.classify.transfer import transfer_verdict

    out = {"records": [], "efficiency": [], "holdout": {}, "histories": {}, "verdicts": {}, "similarity_by_source": {}}
    for src in spec.sources:
        study = _SourceStudy(spec, src, feature_sets[src.name], stages, progress, caught)
        similarity = study.similarity()  # measured before any fine-tuning
        out["similarity_by_source"][src.name] = similarity
        records, efficiency = study.run()
        out["records"] += records
        out["efficiency"] += efficiency
        out["holdout"][src.name] = study.holdout_doc()
        out["histories"][src.name] = study.histories
        verdict = transfer_verdict(records, spec.metrics.main, n_classes=len(study.fs.class_names), similarity=similarity)
        out["verdicts"][src.name] = {k: v for k, v in verdict.items() if k not in ("best",)}
    if out["similarity_by_source"]:  # the first source's measure; every source's in similarity_by_source
        first = next(iter(out["similarity_by_source"]))
        out["similarity"] = {**out["similarity_by_source"][first], "source": first}
    return out


class _SourceStudy:
    """One source's study: its frozen feature set, source table, held-out splits and units."""

    def __init__(self, spec, src, fsets, stages, progress, caught):
        from featx.classify.transfer import holdout_splits
        from featx.extract import open_source

        ft = self.ft = spec.finetune
        self.spec, self.src, self.stages, self.progress, self.caught = spec, src, stages, progress, caught
        self.bspec = next(b for b in spec.backbones if b.name == (ft.backbone or spec.backbones[0].name))
        self.fs = next(f for f in fsets if f.meta["backbone"] == self.bspec.name and
                       ft.layer in (f.meta.get("layer_as_written"), f.name.split(":", 1)[1]))
        self.table = open_source(src.path)
        row_of = {p: i for i, p in enumerate(self.table.paths)}
        self.rows = np.array([row_of[k] for k in self.fs.keys], dtype=np.int64)  # feature-set row -> table row
        names = [self.table.splits[r] for r in self.rows] if self.table.splits else None
        self.holdout = holdout_splits(self.fs.y, names, folds=ft.holdout_folds, seed=ft.seed, groups=self.fs.groups)
        self.metrics = tuple(dict.fromkeys([spec.metrics.main, *spec.metrics.show]))
        self.cache = ResultCache(os.path.join(spec.output, "transfer-cache"))
        self.folder = os.path.join(spec.output, "transfer")
        self.histories: dict = {}
        self._units: dict = {}  # id(record) -> its held-out parts, until paired
        self.fractions = tuple(sorted(set(ft.data_efficiency or ()) | {1.0}))

    def holdout_doc(self) -> dict:
        keys = self.fs.keys
        return {"kind": self.holdout.kind, "description": self.holdout.description,
                "splits": [{"n_train": len(tr), "test_paths": [str(keys[i]) for i in te]} for tr, te in self.holdout.splits]}

    # -- the study --------------------------------------------------------------------------

    def similarity(self) -> dict:
        """The source model's own predictions on a seeded sample of the study's images (its
        pretrained weights, before any fine-tuning) as featx.classify's domain-similarity record;
        cached under the sample's rows and the backbone."""
        from featx.classify.transfer import domain_similarity
        from featx.extract.finetune import PROBE_IMAGES, probe_rows, probe_source_model

        sample = self.rows[probe_rows(len(self.rows), PROBE_IMAGES, self.ft.seed)]
        key = digest({"kind": "transfer-similarity", "v": 2, "source": os.path.abspath(self.src.path),
                      "rows": digest([self.table.paths[r] for r in sample]), "model": self.bspec.model,
                      "weights": self.bspec.weights})
        doc = self.cache.load(key)
        if doc is None:
            probe = probe_source_model(self.table, self.bspec.model, self.bspec.weights, rows=sample,
                                       max_images=len(sample), progress=self.progress)
            doc = {"probs": probe.probs, "bn": [probe.bn_mean, probe.bn_var, probe.bn_running_mean, probe.bn_running_var]}
            self.cache.save(key, doc)
        sim = domain_similarity(doc["probs"], bn=tuple(np.asarray(a, dtype=np.float64) for a in doc["bn"]))
        self.stages.say(f"  {self.src.name}: measured domain similarity {sim['method']} {sim['value']:.3f} -> {sim['verdict']}")
        return sim

    def run(self):
        from featx.classify.transfer import efficiency_subsets

        ft = self.ft
        self.subsets = [efficiency_subsets(tr, self.fs.y, self.fractions, ft.seed) for tr, _ in self.holdout.splits]
        self.stages.say(f"  {self.src.name}: {self.holdout.description}")
        records = [self._record("frozen", None, h, [self._heads(self.fs, "frozen", h, i, 1.0) for i in self._splits()])
                   for h in self.spec.classify.heads]
        tuned = {}
        for strategy in ft.strategies:
            units = [self._finetune(strategy, "pretrained", i, 1.0) for i in self._splits()]
            tuned[strategy] = units
            records.append(self._record("finetuned", strategy, None, units))
            for h in self.spec.classify.heads:
                records.append(self._record("finetuned_features", strategy, h,
                                            [self._heads(self._tuned_features(u), "finetuned_features", h, i, 1.0, u["key"])
                                             for i, u in zip(self._splits(), units)]))
        if ft.scratch:
            records.append(self._record("scratch", "full", None, [self._finetune("full", "scratch", i, 1.0) for i in self._splits()]))
        self._pair(records)
        return records, self._efficiency(tuned)

    def _pair(self, records):
        """Each record against the best frozen one and the best scratch one on the same held-out rows."""
        from featx.classify.transfer import describe_transfer
        from featx.classify.transfer import paired_comparisons

        units = [self._units.pop(id(r)) for r in records]
        paired_comparisons(records, units, self.fs.y, len(self.fs.class_names), self.spec.metrics.main,
                           describe=describe_transfer, seed=self.ft.seed)

    def _splits(self):
        return range(len(self.holdout.splits))

    def _efficiency(self, tuned) -> list[dict]:
        """Frozen heads, the strategy with the lowest validation loss (training rows only) and scratch per fraction."""
        if not self.ft.data_efficiency:
            return []
        from featx.extract.finetune import FinetuneDataError

        best = min(tuned, key=lambda s: _best_val_loss(tuned[s]), default=None)
        lines = [("frozen", None, h, lambda i, f, h=h: self._heads(self.fs, "frozen", h, i, f)) for h in self.spec.classify.heads]
        if best is not None:
            lines.append(("finetuned", best, None, lambda i, f: self._finetune(best, "pretrained", i, f)))
        if self.ft.scratch:
            lines.append(("scratch", "full", None, lambda i, f: self._finetune("full", "scratch", i, f)))
        points = []
        for f in self.fractions:
            for approach, strategy, head, unit in lines:
                try:
                    points.append(self._record(approach, strategy, head, [unit(i, f) for i in self._splits()], f))
                except (FinetuneDataError, ValueError) as exc:  # too few images at this fraction
                    first = str(exc).split(";")[0]
                    self.caught.append(f"{self.src.name}: data efficiency at fraction {f:g}, {approach} "
                                       f"{strategy or head}: skipped ({first})")
        return points

    def _record(self, approach, strategy, head, units, fraction=1.0) -> dict:
        from featx.classify.transfer import heldout_record

        rec = {"source": self.src.name, "approach": approach, "strategy": strategy, "head": head,
               "backbone": self.bspec.name, "layer": self.ft.layer, "fraction": fraction,
               "n_train": int(round(np.mean([u["n_train"] for u in units]))), "n_splits": len(units),
               "holdout": self.holdout.kind}
        rec.update(heldout_record(units, self.fs.y, len(self.fs.class_names), self.metrics, seed=self.ft.seed))
        if fraction == 1.0:
            self._units[id(rec)] = units
        tuned = "epochs_run" in units[0]
        rec["epochs_run"] = int(sum(u["epochs_run"] for u in units)) if tuned else None
        rec["best_epoch"] = units[0].get("best_epoch") if tuned else None
        rec["seconds"] = float(sum(u["seconds"] for u in units))
        rec["cached"] = all(u["cached"] for u in units)
        if tuned and fraction == 1.0:
            rec["history"] = units[0]["history"]
            self.histories[f"{approach}:{strategy}"] = units[0]["history"]
        return rec

    # -- units ------------------------------------------------------------------------------

    def _rows_digest(self, idx) -> str:
        return digest([str(self.fs.keys[i]) for i in idx])

    def _heads(self, fs, approach, head, split, fraction, ckpt_key=None) -> dict:
        """One classical head fitted on the split's training subset, predicting its held-out rows."""
        from featx.classify.cv import features_digest, splits_digest

        train, test = self.subsets[split][fraction], self.holdout.splits[split][1]
        splits = [(train, test)]
        fdig = ckpt_key or features_digest(fs)  # fs: a FeatureSet, or (fine-tuned) a function giving it
        key = digest({"kind": "transfer-heads", "v": _UNIT_VERSION, "cv": cv_key(self.spec, fdig, splits_digest(splits), head),
                      "train": self._rows_digest(train), "test": self._rows_digest(test), "layer": self.ft.layer})
        doc = self.cache.load(key)
        if doc is None:
            from featx.pipelines.stages._cv import cross_validate_one

            r = cross_validate_one(self.spec, fs if ckpt_key is None else fs(), head, splits, self.caught)
            proba = None if r.oof_proba is None else r.oof_proba[0][test]
            extracting = getattr(fs, "seconds", 0.0)
            if ckpt_key is not None:
                fs.seconds = 0.0
            doc = {"test": test, "pred": r.oof_pred[0][test], "proba": proba, "n_train": len(train),
                   "seconds": float(sum(r.fit_times)) + extracting}
            self.cache.save(key, doc)
            self.stages.say(f"    {approach} {head} (fraction {fraction:g}, split {split + 1}): fitted on {len(train)} images")
            return {**doc, "cached": False}
        return {**doc, "cached": True}

    def _config(self, strategy, start):
        from featx.extract.finetune import FINETUNE_OPTIONS, FinetuneConfig

        values = {o.name: getattr(self.ft, o.name) for o in FINETUNE_OPTIONS if o.name != "strategy"}
        return FinetuneConfig(model=self.bspec.model, weights="none" if start == "scratch" else self.bspec.weights,
                              strategy=strategy, **values)

    def _finetune(self, strategy, start, split, fraction) -> dict:
        """One fine-tune (or scratch training) on the split's training subset, its own head
        predicting the held-out rows. The checkpoint's name is the key of its training."""
        from featx.extract.finetune import FinetuneDataError, finetune, predict_with_checkpoint

        train, test = self.subsets[split][fraction], self.holdout.splits[split][1]
        cfg = self._config(strategy, start)
        ckpt_key = digest({"kind": "transfer-finetune", "v": _UNIT_VERSION, "source": os.path.abspath(self.src.path),
                           "train": self._rows_digest(train), "config": cfg.fingerprint()})
        ckpt = os.path.join(self.folder, f"{self.src.name}--{start}-{strategy.replace(':', '')}--{ckpt_key[:16]}.pt")
        key = digest({"kind": "transfer-predict", "v": _UNIT_VERSION, "ckpt": ckpt_key, "test": self._rows_digest(test)})
        doc = self.cache.load(key)
        if doc is not None:
            return {**doc, "key": ckpt_key, "checkpoint": ckpt, "cached": True}
        os.makedirs(self.folder, exist_ok=True)
        try:
            result = finetune(self.table, ckpt, cfg, rows=self.rows[train], progress=self.progress,
                              log=lambda line: self.stages.say("      " + line))
        except FinetuneDataError as exc:  # named as the spec names it
            raise FinetuneDataError(f"[finetune] {start} {strategy} on {self.src.name} (fraction {fraction:g}): {exc}") from None
        self.stages.say(f"    {start} {strategy} (fraction {fraction:g}, split {split + 1}): " + (
            "checkpoint reused" if result.reused else f"trained on {len(train)} images, {result.epochs_run} epoch(s)"))
        t0 = time.perf_counter()
        x = self.spec.extraction
        preds = predict_with_checkpoint(ckpt, self.table, rows=self.rows[test], runtime=x.runtime, workers=x.workers,
                                        device=x.device, batch_size=x.batch_size)
        position = {p: i for i, p in enumerate(preds.paths)}
        keep = [j for j, i in enumerate(test) if str(self.fs.keys[i]) in position]
        order = [position[str(self.fs.keys[test[j]])] for j in keep]
        doc = {"test": test[keep], "pred": preds.probs[order].argmax(1), "proba": preds.probs[order], "n_train": len(train),
               "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "history": result.history,
               "seconds": result.seconds + time.perf_counter() - t0,
               "trained_paths": [self.table.paths[r] for r in np.concatenate([result.train_rows, result.val_rows])]}
        self.cache.save(key, doc)
        return {**doc, "key": ckpt_key, "checkpoint": ckpt, "cached": False}

    def _tuned_features(self, unit):
        """A function giving the frozen feature set's rows as the fine-tuned checkpoint sees them
        (extracted through featx.extract into ``<output>/transfer``, resumable); it is only called
        when a head's unit is not cached."""
        def features():
            from featx.extract import extract, read_cache

            ckpt = unit["checkpoint"]
            if not os.path.exists(ckpt):  # its predictions were cached but the checkpoint was deleted
                raise FileNotFoundError(f"{ckpt} is missing; delete {self.cache.folder} to train it again")
            if "fs" not in unit:
                t0 = time.perf_counter()
                path = ckpt[:-3] + ".h5"
                settings = {k: v for k, v in self.spec.extraction.as_dict().items() if v is not None}
                extract(self.src.path, path, model=ckpt, layers=[self.ft.layer], pool=self.bspec.pool, overwrite=False,
                        strict=False, progress=self.progress, **settings)
                data = read_cache(path)
                where = {p: i for i, p in enumerate(data.paths)}
                X = data.features[next(iter(data.features))][[where[str(k)] for k in self.fs.keys]]
                unit["fs"] = dataclasses.replace(self.fs, name=f"{self.fs.name}@finetuned", X=X)
                features.seconds = time.perf_counter() - t0  # counted once, with the first head fitted
            return unit["fs"]

        features.seconds = 0.0
        return features


def _best_val_loss(units) -> float:
    losses = [h["val_loss"] for h in units[0].get("history") or [] if h.get("val_loss") is not None]
    return min(losses) if losses else float("inf")
