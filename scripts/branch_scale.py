"""How much a `student-tim` network's TIM-Net branch adds to its pooled feature, fold by fold: the mean norm
of the ViT's CLS and of the branch's term on standard-normal images (the normalised input's scale), read from
each fold's kept weights (`best.pt`; runs keep them, benchmarks/ does not, so run the group first).

    python scripts/branch_scale.py runs/peers/emodb-kfold-tim
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from emovit.models import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run directory of a student-tim group")
    parser.add_argument("--model", default="student-tim", help="the model's registry name, as in the run")
    args = parser.parse_args()
    torch.manual_seed(0)
    images = torch.randn(64, 1, 128, 128)
    folds = [f for f in sorted((args.run / "folds").glob("*"), key=lambda p: int(p.name))
             if (f / args.model / "best.pt").is_file()]
    if not folds:
        raise SystemExit(f"{args.run}: no fold has {args.model}/best.pt")
    print("fold  CLS norm  branch norm  branch / CLS")
    for fold in folds:
        weights = torch.load(fold / args.model / "best.pt", map_location="cpu", weights_only=False)["model"]
        network = build(args.model, weights["vit.mlp_head.weight"].shape[0])
        if getattr(network, "temporal", None) is None:
            raise SystemExit(f"{args.model}: not a network with a temporal branch")
        network.load_state_dict(weights)
        network.eval()
        with torch.no_grad():
            cls = network.vit.pooled(images).norm(dim=1).mean().item()
            branch = network.temporal(images).norm(dim=1).mean().item()
        print(f"{fold.name:>4}  {cls:8.2f}  {branch:11.3f}  {branch / cls:12.4f}")


if __name__ == "__main__":
    main()
