"""The commented example spec printed by ``featx run --print-spec`` (every key, with its default
or a typical value). Kept as a Python string so it ships inside the package."""

EXAMPLE_SPEC = '''\
# featx study spec (TOML). Run it with:  featx run study.toml
# Every key is optional except [[sources]].path; defaults are shown. Relative paths are resolved
# against the folder of this file. Full reference: docs/spec.md.

title = "ants vs bees: which layer transfers best?"
output = "featx-out/study"          # report.html, results.json, cache/, cv-cache/, plots/
# cache_dir = "data/cache"          # share extraction caches between studies (default <output>/cache)
notes = []                          # remarks shown at the top of the report

# One [[sources]] table per dataset: a folder with one sub-folder per class, or a CSV manifest
# path,label[,group] (paths relative to the CSV). Each source is compared on its own folds.
[[sources]]
name = "hymenoptera"                # short name for tables and cache files (default: folder name)
path = "../shared/data/hymenoptera"

# One [[backbones]] table per feature extractor. Adding a backbone later extracts only that one.
[[backbones]]
name = "lite0"                      # default: the model name
model = "efficientnet_lite0"        # 'featx models', torchvision:NAME, timm:NAME or a featx checkpoint
weights = "default"                 # default | none | torchvision weights name | state_dict file
layers = ["blocks.4", "penultimate"]   # see 'featx layers MODEL'; penultimate = pooled pre-classifier
pool = "avg"                        # avg | max | avgmax | none

# [[backbones]]
# name = "resnet50"
# model = "resnet50"
# weights = "IMAGENET1K_V2"
# layers = ["layer3", "penultimate"]

[extraction]
batch_size = 64
workers = "auto"                    # DataLoader workers: "auto" or an integer
device = "auto"                     # auto | cpu | cuda | cuda:N | mps
precision = "auto"                  # auto | fp32 | bf16 | fp16
dtype = "float16"                   # stored features: float16 | float32
tta = "none"                        # none | hflip (mean of the image's and its mirror's features)
jpeg_draft = true                   # fast JPEG decoding at reduced size
# max_pixels = 89478485             # refuse larger images

[classify]
heads = ["logreg", "svm", "rf", "xgb"]   # also: svm_rbf, knn, ridge, centroid
pca = "off"                         # "off" | "search" (nested only) | components (int) | kept variance (float)
whiten = false
probability = false                 # calibrate svm/ridge so log loss is available (slower)
jobs = -1                           # parallel outer folds; -1 = all cores

# PCA per head, overriding `pca` for the heads named (trees are slow on 1000+ wide features).
[classify.head_pca]
xgb = 64

# Search-grid overrides (nested CV only): pipeline parameter -> values; "none" means None.
[classify.grids.logreg]
clf__C = [0.01, 0.1, 1.0]

[classify.grids.xgb]
clf__max_depth = [2, 4]
clf__learning_rate = [0.1]

[cv]
scheme = "stratified"               # stratified | grouped (needs a manifest with a group column)
nested = true                       # inner search for hyperparameters in every outer training fold
folds = 5
inner_folds = 3
repeats = 1
seed = 0                            # same seed = same folds for every head, layer and model
search = "grid"                     # grid | random
n_iter = 10                         # candidates of a random search

[metrics]
main = "balanced_accuracy"          # ranks configurations, picks the best, drives the plots
show = ["balanced_accuracy", "accuracy", "f1_macro", "roc_auc"]   # also: log_loss

[report]
learning_curve = true               # best configuration, same outer folds
fractions = [0.1, 0.25, 0.5, 0.75, 1.0]
pca_plot = true
'''
