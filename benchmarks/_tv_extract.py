"""One thingsvision 2.7.3 extraction (runs inside the thingsvision benchmark venv); prints JSON.

The documented Python API: get_extractor -> ImageDataset -> DataLoader -> extract_features ->
save_features(file_format="hdf5"). Timed from after model construction to the written file."""

import argparse
import json
import os
import time
import warnings

warnings.filterwarnings("ignore")
MODELS = {  # featx name -> (thingsvision source, model name, layer featx taps by default)
    "efficientnet_lite0": ("timm", "tf_efficientnet_lite0", "global_pool"),
    "resnet50": ("torchvision", "resnet50", "avgpool"),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", required=True, help="a folder of class sub-folders")
    p.add_argument("--model", default="efficientnet_lite0", choices=sorted(MODELS))
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    import torch
    from thingsvision import get_extractor
    from thingsvision.utils.data import DataLoader, ImageDataset
    from thingsvision.utils.storing import save_features
    from importlib.metadata import version

    source, name, layer = MODELS[args.model]
    extractor = get_extractor(model_name=name, source=source, device="cpu", pretrained=False)
    t0 = time.perf_counter()
    dataset = ImageDataset(root=args.source, out_path=args.out, backend=extractor.get_backend(),
                           transforms=extractor.get_transformations(resize_dim=256, crop_dim=224))
    batches = DataLoader(dataset=dataset, batch_size=args.batch_size, backend=extractor.get_backend())
    features = extractor.extract_features(batches=batches, module_name=layer, flatten_acts=True)
    save_features(features, out_path=args.out, file_format="hdf5")
    seconds = time.perf_counter() - t0
    print("RESULT " + json.dumps({"images": int(features.shape[0]), "dim": int(features.shape[1]), "seconds": seconds,
                                  "layer": layer, "torch_threads": torch.get_num_threads(),
                                  "thingsvision": version("thingsvision"), "torch": torch.__version__,
                                  "files": sorted(os.listdir(args.out))}))


if __name__ == "__main__":
    main()
