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

import torch
import torch.nn.functional as F
from torch.autograd.function import FunctionCtx, once_differentiable

# elements of one [chunk, batch, d_inner, d_state] work buffer (4 MiB in float32)
CHUNK_ELEMENTS = 1 << 20


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
    """Run the selective scan; the CUDA kernel when mamba-ssm is installed and u is on CUDA.

    u, delta, z: [batch, d_inner, L]; A: [d_inner, d_state]; B, C: [batch, d_state, L];
    D, delta_bias: [d_inner]. Returns y: [batch, d_inner, L] in u's dtype.
    """
    kernel = _cuda_kernel() if u.is_cuda else None
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
    y = _StepwiseScan.apply(
        u_c.contiguous(), delta.contiguous(), A.to(compute_dtype).contiguous(),
        B.to(compute_dtype).contiguous(), C.to(compute_dtype).contiguous(), chunk_size,
    )
    if D is not None:
        y = y + D.to(compute_dtype)[:, None] * u_c
    if z is not None:
        y = y * F.silu(z.to(compute_dtype))
    return y.to(u.dtype)


def _check_shapes(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> None:
    """Raise ValueError unless the shapes follow the convention in ``selective_scan``."""
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be [batch, d_inner, L], got {tuple(u.shape)} "
                         f"and {tuple(delta.shape)}")
    batch, d_inner, length = u.shape
    if A.dim() != 2 or A.shape[0] != d_inner:
        raise ValueError(f"A must be [d_inner={d_inner}, d_state], got {tuple(A.shape)}")
    expected = (batch, A.shape[1], length)
    if tuple(B.shape) != expected or tuple(C.shape) != expected:
        raise ValueError(f"B and C must be [batch, d_state, L] = {expected}, got "
                         f"{tuple(B.shape)} and {tuple(C.shape)}")


class _StepwiseScan(torch.autograd.Function):
    """y_t = ⟨C_t, h_t⟩ with h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t, and its exact backward.

    Inputs and outputs are contiguous and channels-first: u, delta, y: [b, d, L]; B, C: [b, n, L];
    A: [d, n]. The work is time-major: each chunk's steps are read as [T, b, ·] views and the
    recurrence runs in [T, b, d, n] buffers, so one step is one contiguous [b, d, n] block. The
    forward keeps only the state at the start of each chunk; the backward recomputes a chunk's
    states from it and runs the adjoint λ_t = dloss/dh_t backwards in time:
    λ_t = g_t C_t + exp(Δ_{t+1} A) ⊙ λ_{t+1}, with g_t = dloss/dy_t.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx,
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
        batch, d_inner, length = u.shape
        decay = u.new_empty(min(chunk_size, length), batch, d_inner, A.shape[1])
        states = torch.empty_like(decay)
        y_chunk = u.new_empty(decay.shape[:3] + (1,))
        y = torch.empty_like(u)
        chunks = _chunks(length, chunk_size)
        checkpoints = u.new_zeros(len(chunks), batch, d_inner, A.shape[1])
        for index, steps in enumerate(chunks):
            span = steps.stop - steps.start
            _run_chunk(_steps(u, steps), _steps(delta, steps), A, _steps(B, steps),
                       checkpoints[index], decay[:span], states[:span])
            torch.matmul(states[:span], _steps(C, steps)[..., None], out=y_chunk[:span])
            _steps(y, steps).copy_(y_chunk[:span, ..., 0])
            if index + 1 < len(chunks):
                checkpoints[index + 1] = states[span - 1]
        ctx.chunk_size = chunk_size
        ctx.save_for_backward(u, delta, A, B, C, checkpoints)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """grad_y: [b, d, L] -> gradients of u, delta, A, B, C (shapes of the inputs)."""
        u, delta, A, B, C, checkpoints = ctx.saved_tensors
        batch, d_inner, length = u.shape
        grad_u, grad_delta = torch.empty_like(u), torch.empty_like(delta)
        grad_B, grad_C = torch.empty_like(B), torch.empty_like(C)
        grad_A = torch.zeros_like(A)
        decay = u.new_empty(min(ctx.chunk_size, length), batch, d_inner, A.shape[1])
        states, adjoint, through_decay = (torch.empty_like(decay) for _ in range(3))
        per_state = u.new_empty(decay.shape[0], batch, 1, A.shape[1])  # [T, b, 1, n]
        # exp(Δ A) ⊙ λ at the first step of the chunk after the current one
        carried = torch.zeros_like(checkpoints[0])
        chunks = _chunks(length, ctx.chunk_size)
        for index in reversed(range(len(chunks))):
            steps = chunks[index]
            span = steps.stop - steps.start
            decay_c, states_c = decay[:span], states[:span]
            adjoint_c, through_decay_c = adjoint[:span], through_decay[:span]
            u_c, delta_c, B_c = _steps(u, steps), _steps(delta, steps), _steps(B, steps)
            g_c = _steps(grad_y, steps)
            _run_chunk(u_c, delta_c, A, B_c, checkpoints[index], decay_c, states_c)
            torch.matmul(g_c[:, :, None, :], states_c, out=per_state[:span])
            _steps(grad_C, steps).copy_(per_state[:span, :, 0])

            torch.mul(g_c[..., None], _steps(C, steps)[:, :, None, :], out=adjoint_c)
            adjoint_c[-1] += carried
            for step in range(span - 2, -1, -1):
                adjoint_c[step].addcmul_(decay_c[step + 1], adjoint_c[step + 1])
            torch.mul(decay_c[0], adjoint_c[0], out=carried)

            # λ_t ⊙ exp(Δ_t A) ⊙ h_{t-1}: what reaches Δ_t and A through the decay
            torch.mul(decay_c[0], checkpoints[index], out=through_decay_c[0])
            torch.mul(decay_c[1:], states_c[:-1], out=through_decay_c[1:])
            through_decay_c.mul_(adjoint_c)
            adjoint_B = torch.matmul(adjoint_c, B_c[..., None])[..., 0]  # [T, b, d]
            torch.mul(delta_c, adjoint_B, out=_steps(grad_u, steps))
            decay_term = torch.mul(through_decay_c, A, out=decay_c).sum(-1)
            torch.addcmul(decay_term, u_c, adjoint_B, out=_steps(grad_delta, steps))
            grad_A += through_decay_c.mul_(delta_c[..., None]).sum((0, 1))
            torch.matmul((delta_c * u_c)[:, :, None, :], adjoint_c, out=per_state[:span])
            _steps(grad_B, steps).copy_(per_state[:span, :, 0])
        return grad_u, grad_delta, grad_A, grad_B, grad_C, None


def _steps(x: torch.Tensor, steps: slice) -> torch.Tensor:
    """Time-major view of some steps: [b, c, L] -> [T, b, c] (no copy)."""
    return x[..., steps].permute(2, 0, 1)


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
    states[0].addcmul_(decay[0], initial)
    for step in range(1, states.shape[0]):
        states[step].addcmul_(decay[step], states[step - 1])
