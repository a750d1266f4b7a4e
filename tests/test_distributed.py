"""Data-parallel stages (DDP, gloo, 2 processes on the CPU) give the single-process weights."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from emovit import distributed
from emovit.checkpoint import load_torch
from emovit.stages import StageConfig, run_stage, teacher_features
from conftest import STAGE_LABELS as LABELS, is_conv_bias_before_instance_norm, small_network as _small, stage_data as _data

pytestmark = pytest.mark.slow  # several processes: outside the fast set (pytest -m 'not slow')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(stage: str, out, batch_size: int):
    data = _data(n=10, views=2)
    if stage == "match":
        data.train_targets = teacher_features(_small("teacher", seed=7), data.train_images, torch.device("cpu"))
        data.val_targets = teacher_features(_small("teacher", seed=7), data.val_images, torch.device("cpu"))
    model = _small("teacher" if stage == "teacher" else "student")
    config = StageConfig(epochs=2, batch_size=batch_size, lr=1e-3, select="last", checkpoint_every=2)
    if stage == "plain":  # emovit's recipe: masks, crops and mixup drawn for the global batch, a weight average
        config = StageConfig(epochs=2, batch_size=batch_size, optimizer="adamw", lr=1e-3, weight_decay=0.05,
                             schedule="cosine", warmup_epochs=1, label_smoothing=0.1, freq_masks=1, freq_width=4,
                             time_masks=1, time_width=4, crop_prob=0.5, mixup_alpha=0.4, mixup_prob=0.5,
                             ema_decay=0.9, select="last", checkpoint_every=2)
    return run_stage(stage, model, data, config, out, LABELS, progress=False)


def _worker(rank, world, port, stage, out, batch_size):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    assert distributed.init_from_env(torch.device("cpu"))
    try:
        _train(stage, out, batch_size)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("stage,batch_size", [("teacher", 4), ("match", 3), ("plain", 4)])  # 3: a rank's share is empty
def test_two_process_ddp_equals_single_process(tmp_path, stage, batch_size):
    single = _train(stage, tmp_path / "single", batch_size)
    mp.spawn(_worker, args=(2, _free_port(), stage, tmp_path / "ddp", batch_size), nprocs=2, join=True)
    a = load_torch(tmp_path / "single" / "final.pt")["model"]
    b = load_torch(tmp_path / "ddp" / "final.pt")["model"]
    for name in a:
        if is_conv_bias_before_instance_norm(name):
            # InstanceNorm removes a conv bias exactly, so its gradient is rounding noise (~1e-9)
            # that Adam scales up to full steps: these values are arbitrary in any run
            continue
        assert torch.allclose(a[name], b[name], atol=1e-5, rtol=1e-4), name
    ddp_history = load_torch(tmp_path / "ddp" / "final.pt")["summary"]["history"]
    assert [h["train_loss"] for h in ddp_history] == pytest.approx([h["train_loss"] for h in single["history"]],
                                                                   rel=1e-4)
