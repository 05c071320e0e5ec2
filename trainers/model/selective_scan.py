"""The selective scan of Mamba (S6), with the mamba-ssm CUDA kernel or our own PyTorch backend.

Per batch b, channel d, state n and step t (all of this file follows mamba-ssm's conventions):

    Δ_t = softplus(delta_t + delta_bias)          (bias and softplus optional)
    h_t = exp(Δ_t · A) ⊙ h_{t-1} + Δ_t · B_t · u_t,   h_{-1} = 0
    y_t = ⟨C_t, h_t⟩ + D · u_t                      (D optional)
    y_t = y_t · silu(z_t)                           (z optional)

Our backend runs this recurrence step by step in float32 (or float64) with a hand-written
backward: the adjoint state runs backwards in time over chunks of steps, and each chunk's states
are recomputed from a checkpoint, so memory stays at a few chunks of [batch, d_inner, d_state]
instead of the whole [batch, d_inner, L, d_state].
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

# elements of one [chunk, batch, d_inner, d_state] work buffer (4 MiB in float32)
CHUNK_ELEMENTS = 1 << 20
# dtypes the mamba-ssm kernel takes; others (float64) always use our backend
KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> torch.Tensor:
    """Run the selective scan; the CUDA kernel when mamba-ssm is installed and u is a CUDA
    tensor of a dtype the kernel supports (float32, float16, bfloat16), else our backend.

    u, delta, z: [batch, d_inner, L]; A: [d_inner, d_state]; B, C: [batch, d_state, L];
    D, delta_bias: [d_inner]. Returns y: [batch, d_inner, L] in u's dtype.
    """
    kernel = _cuda_kernel() if u.is_cuda and u.dtype in KERNEL_DTYPES else None
    if kernel is not None:
        return kernel(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return torch_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def scan_backend_name(device: torch.device | str) -> str:
    """Which backend ``selective_scan`` uses for tensors on ``device``."""
    if torch.device(device).type == "cuda" and _cuda_kernel() is not None:
        return "mamba-ssm CUDA kernel"
    return "PyTorch stepwise scan (osgnet-bench)"


@functools.cache
def _cuda_kernel() -> Callable[..., torch.Tensor] | None:
    """mamba-ssm's fused selective scan, or None when mamba-ssm is not installed."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


def torch_selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Our backend for ``selective_scan`` (same arguments); works on any device.

    Half-precision inputs are computed in float32, like the CUDA kernel. ``chunk_size`` is the
    number of steps per work buffer (default: about ``CHUNK_ELEMENTS`` elements per buffer).
    """
    _check_shapes(u, delta, A, B, C)
    compute_dtype = torch.promote_types(u.dtype, torch.float32)
    batch, d_inner, _ = u.shape
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ELEMENTS // (batch * d_inner * A.shape[1]))
    delta = delta.to(compute_dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(compute_dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    u_c = u.to(compute_dtype)
    y = _StepwiseScan.apply(u_c, delta, A.to(compute_dtype), B.to(compute_dtype), C.to(compute_dtype), chunk_size)
    if D is not None:
        y = y + D.to(compute_dtype)[:, None] * u_c
    if z is not None:
        y = y * F.silu(z.to(compute_dtype))
    return y.to(u.dtype)


def _check_shapes(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> None:
    """Raise ValueError unless the shapes follow the convention in ``selective_scan``."""
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be [batch, d_inner, L], got {tuple(u.shape)} and {tuple(delta.shape)}")
    batch, d_inner, length = u.shape
    if A.dim() != 2 or A.shape[0] != d_inner:
        raise ValueError(f"A must be [d_inner={d_inner}, d_state], got {tuple(A.shape)}")
    expected = (batch, A.shape[1], length)
    if tuple(B.shape) != expected or tuple(C.shape) != expected:
        raise ValueError(f"B and C must be [batch, d_state, L] = {expected}, got {tuple(B.shape)} and {tuple(C.shape)}")


class _StepwiseScan(torch.autograd.Function):
    """y_t = ⟨C_t, h_t⟩ with h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t, and its exact backward.

    Inputs and outputs are channels-first: u, delta, y: [b, d, L]; B, C: [b, n, L]; A: [d, n].
    The work is time-major: the sequences are transposed once to [L, b, ·] and the recurrence
    runs over chunks of T steps in [T, b, d, n] buffers, so one step is one contiguous [b, d, n]
    block. The forward keeps only the state at the start of each chunk; the backward recomputes
    a chunk's states from it and runs the adjoint λ_t = dloss/dh_t backwards in time:
    λ_t = g_t C_t + exp(Δ_{t+1} A) ⊙ λ_{t+1}, with g_t = dloss/dy_t.
    """

    @staticmethod
    def forward(
        ctx: Any,
        u: torch.Tensor,
        delta: torch.Tensor,
        A: torch.Tensor,
        B: torch.Tensor,
        C: torch.Tensor,
        chunk_size: int,
    ) -> torch.Tensor:
        """u, delta: [b, d, L]; A: [d, n]; B, C: [b, n, L]; chunk_size: steps per chunk.

        Returns y: [b, d, L].
        """
        u, delta, B, C = (_to_time_major(x) for x in (u, delta, B, C))
        length, batch, d_inner = u.shape
        decay = u.new_empty(min(chunk_size, length), batch, d_inner, A.shape[1])
        states = torch.empty_like(decay)
        y = torch.empty_like(u)
        chunks = _chunks(length, chunk_size)
        checkpoints = u.new_zeros(len(chunks), batch, d_inner, A.shape[1])
        for index, steps in enumerate(chunks):
            span = steps.stop - steps.start
            _run_chunk(u[steps], delta[steps], A, B[steps], checkpoints[index], decay[:span], states[:span])
            torch.matmul(states[:span], C[steps, :, :, None], out=y[steps, :, :, None])
            if index + 1 < len(chunks):
                checkpoints[index + 1] = states[span - 1]
        ctx.chunk_size = chunk_size
        ctx.save_for_backward(u, delta, A, B, C, checkpoints)
        return _to_channels_first(y)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """grad_y: [b, d, L] -> gradients of u, delta, A, B, C (shapes of the inputs)."""
        u, delta, A, B, C, checkpoints = ctx.saved_tensors
        grad_y = _to_time_major(grad_y)
        length, batch, d_inner = u.shape
        grad_u, grad_delta = torch.empty_like(u), torch.empty_like(delta)
        grad_B, grad_C = torch.empty_like(B), torch.empty_like(C)
        grad_A = torch.zeros_like(A)
        decay = u.new_empty(min(ctx.chunk_size, length), batch, d_inner, A.shape[1])
        states, adjoint, through_decay = (torch.empty_like(decay) for _ in range(3))
        decay_rows, adjoint_rows = decay.unbind(0), adjoint.unbind(0)
        # exp(Δ A) ⊙ λ at the first step of the chunk after the current one
        carried = u.new_zeros(batch, d_inner, A.shape[1])
        chunks = _chunks(length, ctx.chunk_size)
        for index in reversed(range(len(chunks))):
            steps = chunks[index]
            span = steps.stop - steps.start
            decay_c, states_c = decay[:span], states[:span]
            adjoint_c, through_decay_c = adjoint[:span], through_decay[:span]
            u_c, delta_c, B_c, g_c = u[steps], delta[steps], B[steps], grad_y[steps]
            _run_chunk(u_c, delta_c, A, B_c, checkpoints[index], decay_c, states_c)
            torch.matmul(g_c[:, :, None, :], states_c, out=grad_C[steps, :, None, :])

            torch.mul(g_c[..., None], C[steps, :, None, :], out=adjoint_c)
            adjoint_c[-1] += carried
            for step in range(span - 2, -1, -1):
                adjoint_rows[step].addcmul_(decay_rows[step + 1], adjoint_rows[step + 1])
            torch.mul(decay_c[0], adjoint_c[0], out=carried)

            # λ_t ⊙ exp(Δ_t A) ⊙ h_{t-1}: what reaches Δ_t and A through the decay
            torch.mul(decay_c[0], checkpoints[index], out=through_decay_c[0])
            torch.mul(decay_c[1:], states_c[:-1], out=through_decay_c[1:])
            through_decay_c.mul_(adjoint_c)
            adjoint_B = torch.matmul(adjoint_c, B_c[..., None])[..., 0]  # [T, b, d]
            torch.mul(delta_c, adjoint_B, out=grad_u[steps])
            decay_term = torch.mul(through_decay_c, A, out=decay_c).sum(-1)
            torch.addcmul(decay_term, u_c, adjoint_B, out=grad_delta[steps])
            grad_A += through_decay_c.mul_(delta_c[..., None]).sum((0, 1))
            torch.matmul((delta_c * u_c)[:, :, None, :], adjoint_c, out=grad_B[steps, :, None, :])
        grad_u, grad_delta, grad_B, grad_C = (_to_channels_first(x) for x in (grad_u, grad_delta, grad_B, grad_C))
        return grad_u, grad_delta, grad_A, grad_B, grad_C, None


def _to_time_major(x: torch.Tensor) -> torch.Tensor:
    """[b, c, L] -> contiguous [L, b, c].

    A view of a [b, L, c] tensor (channels innermost) is copied row by row; otherwise the copy
    is one 2-D transpose, which PyTorch does blockwise (much faster than a 3-D permute).
    """
    batch, channels, length = x.shape
    if x.stride(1) == 1 and channels > 1:
        return x.permute(2, 0, 1).contiguous()
    return x.reshape(batch * channels, length).t().contiguous().view(length, batch, channels)


def _to_channels_first(x: torch.Tensor) -> torch.Tensor:
    """[L, b, c] -> contiguous [b, c, L], the inverse of ``_to_time_major``."""
    length, batch, channels = x.shape
    return x.reshape(length, batch * channels).t().contiguous().view(batch, channels, length)


def _chunks(length: int, chunk_size: int) -> list[slice]:
    """The consecutive step ranges of at most ``chunk_size`` steps that cover ``range(length)``."""
    return [slice(start, min(start + chunk_size, length)) for start in range(0, length, chunk_size)]


def _run_chunk(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    initial: torch.Tensor,
    decay: torch.Tensor,
    states: torch.Tensor,
) -> None:
    """Run the recurrence over one chunk of T steps from state ``initial``, in place.

    u, delta: [T, b, d]; A: [d, n]; B: [T, b, n]; initial: [b, d, n].
    Fills the work buffers decay with exp(Δ_t A) and states with h_t, both [T, b, d, n].
    """
    torch.mul(delta[..., None], A, out=decay).exp_()
    torch.mul((delta * u)[..., None], B[:, :, None, :], out=states)
    state_rows, decay_rows = states.unbind(0), decay.unbind(0)
    state_rows[0].addcmul_(decay_rows[0], initial)
    for step in range(1, len(state_rows)):
        state_rows[step].addcmul_(decay_rows[step], state_rows[step - 1])
