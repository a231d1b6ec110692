"""The extraction settings, each defined once as a :class:`featx.common.Option`.

They live in this module, which imports no heavy library, so the CLI and the pipeline spec can
read them without importing torch; the modules that read a setting import it from here
(``featx.extract`` re-exports them all). ``EXTRACTION_OPTIONS`` is the spec's ``[extraction]``
table (pool is per backbone); the CLI adds its flags and the spec its keys from it.
"""

from __future__ import annotations

from featx.common import Option
from featx.extract.runtime._registry import RUNTIMES

BATCH_SIZE = Option("batch_size", 64, "images per forward pass (halved on CUDA out-of-memory)", kind=int, minimum=1)
WORKERS = Option("workers", None, "decoding worker processes ('auto': 0 on the CPU = in-process decoding threads; "
                 "up to 4 on a GPU)", kind=int, minimum=0, none_word="auto")
DEVICE = Option("device", "auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
RUNTIME = Option("runtime", "auto", "inference runtime (auto: OpenVINO on the CPU, torch on CUDA/MPS)",
                 choices=RUNTIMES)  # auto + the registered runtimes, read live (register_runtime)
PRECISION = Option("precision", "auto", "precision (auto: bf16/fp16 autocast on GPU, fp32 on CPU; bf16 opts in on CPU)",
                   choices=("auto", "fp32", "bf16", "fp16"))
DTYPE = Option("dtype", "float16", "stored feature dtype", choices=("float16", "float32"))
TTA = Option("tta", "none", "test-time augmentation: 'hflip' stores the mean of the image's and its mirror's features",
             choices=("none", "hflip"))
JPEG_DRAFT = Option("jpeg_draft", True, "let Pillow decode large JPEGs at reduced size (faster, same result after "
                    "resizing); --no-jpeg-draft decodes at full size", kind=bool)
MAX_PIXELS = Option("max_pixels", None, "refuse images with more pixels (default: about 89 million)", kind=int, minimum=1)
TOKEN_POOLS = ("cls", "mean", "cls+mean")  # a vision transformer's tokens: class token, mean of the patch tokens, both
POOLS = ("avg", "max", "avgmax", "none", *TOKEN_POOLS)
POOL = Option("pool", "avg", "pooling of spatial maps (avg, max, avgmax, none: flattened); of a vision transformer's "
              "tokens: cls (class token), mean (patch tokens), cls+mean (both, concatenated)", choices=POOLS)

PRECISIONS = PRECISION.choices
TTAS = TTA.choices
DTYPES = DTYPE.choices
EXTRACTION_OPTIONS = (BATCH_SIZE, WORKERS, DEVICE, RUNTIME, PRECISION, DTYPE, TTA, JPEG_DRAFT, MAX_PIXELS)
