"""Faster CPU kernels for the paper's networks: the same numbers (to fp32 rounding), less time.

Two places dominate a CPU training step of the teacher and the student (`emovit.training_speed`
measures them):

* **The teacher's conv stem** (six 3x3 convolutions over 128x128 maps, 0.76 GMACs a clip, two
  thirds of the teacher). `stem_forward` runs it in channels-last memory, where oneDNN's 3x3
  convolutions (forward and both backward passes) are faster than in NCHW, and replaces
  ``InstanceNorm2d -> GELU`` by one autograd function (`norm_gelu`) that saves one tensor instead of
  two, computes the per-channel statistics with plain sums (``InstanceNorm2d`` and ``var_mean``
  are slow on channels-last tensors) and skips the convolution's bias, which the norm cancels
  exactly (x + b - mean(x + b) = x - mean(x)). The bias stays a parameter, so state dicts are
  unchanged; its gradient is exactly zero (mathematically it is; the plain path gets rounding
  noise of about 1e-9), which Adam turns into no change at all.
* **The ViTs' linear layers** on fp32 CPU tensors go through MKL's sgemm, which on AMD CPUs runs
  AVX2 code (about half the machine's fp32 rate where AVX-512 is present). `linear` runs them, and
  both matrix products of their backward pass, through oneDNN's matmul, which uses AVX-512 there.

Every fast path falls back to the plain PyTorch ops when it does not apply: not a CPU float32
tensor, under autocast, while tracing, exporting or compiling, under a dispatch mode (e.g. the
FLOP counter of `emovit.profile`), inside torch.func transforms, when `plain()` is in force, or
in a process started with EMOVIT_FAST=0. `plain()` is also how the tests compare the two paths.
"""
from __future__ import annotations

import contextlib
import functools
import os

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

_ENABLED = os.environ.get("EMOVIT_FAST", "1") != "0"  # EMOVIT_FAST=0: plain ops everywhere
# Fewer rows than this and oneDNN's per-call overhead outweighs its faster kernel (batch-1 heads).
LINEAR_MIN_ROWS = 16
# Clips a time through the conv stem (see stem_forward).
STEM_CHUNK = 2


def enabled() -> bool:
    return _ENABLED


@contextlib.contextmanager
def plain(disable: bool = True):
    """Within the block the networks run the plain PyTorch ops (reference path); `plain(False)`
    changes nothing (the fast paths stay as they are: on, unless EMOVIT_FAST=0)."""
    global _ENABLED
    previous = _ENABLED
    _ENABLED = _ENABLED and not disable
    try:
        yield
    finally:
        _ENABLED = previous


def _dispatch_mode_active() -> bool:
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode
        return _get_current_dispatch_mode() is not None
    except Exception:  # pragma: no cover - private API moved
        return True


def _transforming() -> bool:
    try:
        return bool(torch._C._are_functorch_transforms_active())
    except Exception:  # pragma: no cover
        return False


def applies(*tensors: torch.Tensor) -> bool:
    """Whether the fast CPU path may run on these tensors here and now."""
    if not _ENABLED:
        return False
    for t in tensors:
        if t is None:
            continue
        if type(t) not in (torch.Tensor, torch.nn.Parameter) or t.device.type != "cpu" or t.dtype != torch.float32:
            return False
    if torch.is_autocast_enabled("cpu") or torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    if torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return False
    return not _dispatch_mode_active() and not _transforming()


# --- linear through oneDNN -----------------------------------------------------------------------

def _onednn_linear(x, weight, bias):
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


@functools.lru_cache(maxsize=1)
def onednn_linear_works() -> bool:
    """oneDNN's linear is there and agrees with F.linear (checked once, on the transposed operands
    the backward pass gives it too)."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    try:
        with torch.inference_mode(False), torch.enable_grad():
            return _check_onednn_linear()
    except Exception:
        return False


def _check_onednn_linear() -> bool:
    g = torch.Generator().manual_seed(0)
    x, w, b, dy = (torch.randn(s, generator=g) for s in ((3, 19, 24), (20, 24), (20,), (3, 19, 20)))
    y, dx, dw, db = _linear_and_grads(x[:, 1:], w, b, dy[:, 1:])  # rows with a gap: not one stride
    xr = x[:, 1:].detach().requires_grad_()
    wr, br = w.clone().requires_grad_(), b.clone().requires_grad_()
    ref = F.linear(xr, wr, br)
    ref.backward(dy[:, 1:])
    return all(torch.allclose(a, r, atol=1e-4, rtol=1e-4)
               for a, r in ((y, ref), (dx, xr.grad), (dw, wr.grad), (db, br.grad)))


def _linear_and_grads(x, w, b, dy):
    x, w, b = x.detach().requires_grad_(), w.detach().requires_grad_(), b.detach().requires_grad_()
    y = _Linear.apply(x, w, b)
    y.backward(dy)
    return y.detach(), x.grad, w.grad, b.grad


class _Linear(torch.autograd.Function):
    """y = x W^T + b with all three matrix products (y, dx = dy W, dW = dy^T x) through oneDNN."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1])  # oneDNN wants rows it can step through with one stride
        ctx.save_for_backward(x2, weight)
        ctx.has_bias, ctx.x_shape = bias is not None, x.shape
        return _onednn_linear(x2, weight, bias).view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x2, weight = ctx.saved_tensors
        dx = dw = db = None
        dy2 = dy.reshape(-1, dy.shape[-1])
        if ctx.needs_input_grad[0]:
            dx = _onednn_linear(dy2, weight.t(), None).view(ctx.x_shape)  # dy @ W
        if ctx.needs_input_grad[1]:
            dw = _onednn_linear(dy2.t(), x2.t(), None)  # dy^T @ x
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dy2.sum(0)
        return dx, dw, db


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear, through oneDNN where that is faster (CPU fp32, at least LINEAR_MIN_ROWS rows)."""
    if applies(x, weight, bias) and x.dim() >= 2 and x.numel() >= LINEAR_MIN_ROWS * x.shape[-1] > 0 \
            and onednn_linear_works():  # applies() first: no shape arithmetic while tracing
        return _Linear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


class Linear(torch.nn.Linear):
    """nn.Linear (same parameters, same state-dict keys) whose forward is `linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


# --- InstanceNorm2d (no affine) -> GELU, fused -----------------------------------------------------

class _NormGELU(torch.autograd.Function):
    """y = gelu((x - mean) / sqrt(var + eps)), statistics per sample and channel over H, W.

    The conv bias in front is passed in only so that it counts as used (DDP) and gets its exact
    gradient, zero: the norm removes any per-channel constant."""

    @staticmethod
    def forward(ctx, x, bias, eps):
        hw = x.shape[2] * x.shape[3]
        xc = x - x.sum((2, 3), keepdim=True).div_(hw)
        rstd = (xc * xc).sum((2, 3), keepdim=True).div_(hw).add_(eps).rsqrt_()
        xhat = xc.mul_(rstd)
        ctx.save_for_backward(xhat, rstd)
        ctx.bias_shape = None if bias is None else bias.shape
        return F.gelu(xhat)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        xhat, rstd = ctx.saved_tensors
        hw = xhat.shape[2] * xhat.shape[3]
        d = torch.ops.aten.gelu_backward(dy, xhat)  # dL/dxhat
        a = d.sum((2, 3), keepdim=True).div_(hw)
        b = (d * xhat).sum((2, 3), keepdim=True).div_(hw)
        # dL/dx = rstd * (d - mean(d) - xhat * mean(d * xhat))
        dx = torch.addcmul(-rstd * a, d, rstd).addcmul_(xhat, rstd * b, value=-1.0)
        db = None if ctx.bias_shape is None else dy.new_zeros(ctx.bias_shape)
        return dx, db, None


def norm_gelu(x: torch.Tensor, bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """gelu(instance_norm(x + bias)) without adding the bias, which the norm cancels."""
    return _NormGELU.apply(x, bias, eps)


def stem_applies(net: torch.nn.Sequential, x: torch.Tensor) -> bool:
    """Whether `stem_forward` may run this [Conv2d, InstanceNorm2d, GELU]* stack on x."""
    if not applies(x):
        return False
    mods = list(net)
    if len(mods) % 3:
        return False
    if any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in mods) \
            or torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks:
        return False  # the layers' own forwards must run for their hooks to see them
    for conv, norm, act in zip(mods[0::3], mods[1::3], mods[2::3]):
        if not (type(conv) is torch.nn.Conv2d and type(norm) is torch.nn.InstanceNorm2d
                and type(act) is torch.nn.GELU):
            return False
        if norm.affine or norm.track_running_stats or act.approximate != "none" or not applies(conv.weight):
            return False
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) \
                or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding_mode != "zeros":
            return False
    return True


class _ChannelsLastWeight(torch.autograd.Function):
    """A conv weight copied to channels-last memory, whose gradient comes back in the parameter's own
    strides (DDP's gradient buckets and Adam's multi-tensor kernels expect those)."""

    @staticmethod
    def forward(ctx, weight):
        ctx.shape, ctx.strides = weight.shape, weight.stride()
        return weight.clone(memory_format=torch.channels_last)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        return torch.empty_strided(ctx.shape, ctx.strides, dtype=grad.dtype, device=grad.device).copy_(grad)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """x in channels-last memory, with strides that say so even for one channel (for which both
    layouts are the same memory): PyTorch picks a convolution's output layout from those strides."""
    x = x.contiguous(memory_format=torch.channels_last)
    if x.shape[1] == 1 and x.stride(1) != 1:
        x = x.as_strided(x.shape, (x.stride(0), 1, x.stride(2), x.stride(3)))
    return x


def stem_forward(net: torch.nn.Sequential, x: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """The stack of [Conv2d 3x3 -> InstanceNorm2d -> GELU] in channels-last memory, norm and GELU
    fused, conv bias skipped (cancelled by the norm). Returns a contiguous tensor.

    The batch goes through in chunks of `chunk` (STEM_CHUNK) clips: the norm is per clip, so this is
    the same function, and each chunk's activations (21 MB a clip for the paper's stem at 128x128)
    stay in cache through its forward and, autograd running the last-made chunk first, its backward."""
    chunk = chunk or STEM_CHUNK
    if x.shape[0] > chunk:
        return torch.cat([stem_forward(net, part, chunk) for part in x.split(chunk)])
    mods = list(net)
    x = channels_last(x)
    for conv, norm in zip(mods[0::3], mods[1::3]):
        x = F.conv2d(x, _ChannelsLastWeight.apply(conv.weight), None, padding=1)
        x = norm_gelu(x, conv.bias, norm.eps)
    return x.contiguous()
