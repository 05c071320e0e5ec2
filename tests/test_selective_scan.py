"""The selective scan against the textbook recurrence, the valid-prefix flip, backend dispatch."""

from __future__ import annotations

import sys
import types

import pytest
import torch
import torch.nn.functional as F

from trainers.model import selective_scan as scan_module
from trainers.model.masking import flip_valid
from trainers.model.selective_scan import scan_backend_name, selective_scan, torch_selective_scan

NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def textbook_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """The recurrence written out one step and one formula at a time (plain autograd)."""
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, d_inner, length = u.shape
    state = torch.zeros(batch, d_inner, A.shape[1], dtype=u.dtype)
    outputs = []
    for t in range(length):
        decay = torch.exp(delta[:, :, t, None] * A[None])
        state = decay * state + delta[:, :, t, None] * B[:, None, :, t] * u[:, :, t, None]
        y = (state * C[:, None, :, t]).sum(-1)
        if D is not None:
            y = y + D * u[:, :, t]
        if z is not None:
            y = y * F.silu(z[:, :, t])
        outputs.append(y)
    return torch.stack(outputs, dim=-1)


def random_inputs(batch, d_inner, d_state, length, dtype=torch.float64, seed=0):
    """Dict of leaf tensors with the Mamba shapes and realistic ranges (A < 0, small Δ)."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype)

    tensors = {
        "u": rand(batch, d_inner, length),
        "delta": 0.5 * rand(batch, d_inner, length),
        "A": -torch.rand(d_inner, d_state, generator=generator, dtype=dtype) * 2 - 0.1,
        "B": rand(batch, d_state, length),
        "C": rand(batch, d_state, length),
        "D": rand(d_inner),
        "z": rand(batch, d_inner, length),
        "delta_bias": 0.3 * rand(d_inner),
    }
    return {name: tensor.requires_grad_() for name, tensor in tensors.items()}


def outputs_and_grads(scan, inputs, options, grad_y, **kwargs):
    """Scan output and the gradient of <y, grad_y> w.r.t. every input that is used."""
    used = {name: inputs[name] for name in ("u", "delta", "A", "B", "C")}
    used.update({name: inputs[name] for name in ("D", "z", "delta_bias") if options[name]})
    y = scan(**used, delta_softplus=options["softplus"], **kwargs)
    grads = torch.autograd.grad(y, list(used.values()), grad_y)
    return y, dict(zip(used, grads))


def assert_close_to_textbook(inputs, options, chunk_size, rtol, atol):
    """Forward and every gradient agree; atol scales with the largest value (without softplus
    a negative Δ makes the state grow, so values span many magnitudes)."""
    grad_y = torch.randn_like(inputs["u"])
    ours, our_grads = outputs_and_grads(torch_selective_scan, inputs, options, grad_y,
                                        chunk_size=chunk_size)
    expected, expected_grads = outputs_and_grads(textbook_scan, inputs, options, grad_y)
    assert set(our_grads) == set(expected_grads)
    for name, value in [("y", ours), *our_grads.items()]:
        reference = expected if name == "y" else expected_grads[name]
        scale = max(1.0, reference.abs().max().item())
        torch.testing.assert_close(value, reference, rtol=rtol, atol=atol * scale,
                                   msg=lambda text, name=name: f"{name}: {text}")


OPTION_SETS = [
    {"D": False, "z": False, "delta_bias": False, "softplus": False},
    {"D": True, "z": False, "delta_bias": False, "softplus": False},
    {"D": False, "z": True, "delta_bias": True, "softplus": False},
    {"D": False, "z": False, "delta_bias": True, "softplus": True},
    {"D": True, "z": True, "delta_bias": True, "softplus": True},
]


@pytest.mark.parametrize("options", OPTION_SETS)
@pytest.mark.parametrize("length,chunk_size", [(1, 4), (7, 3), (37, 5), (37, 64)])
def test_matches_textbook_float64(options, length, chunk_size):
    inputs = random_inputs(3, 5, 4, length, torch.float64, seed=length)
    assert_close_to_textbook(inputs, options, chunk_size, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("options", [OPTION_SETS[0], OPTION_SETS[-1]])
def test_matches_textbook_float32(options):
    inputs = random_inputs(2, 16, 8, 45, torch.float32, seed=3)
    assert_close_to_textbook(inputs, options, chunk_size=8, rtol=1e-4, atol=1e-4)


def test_float32_error_is_that_of_the_textbook_recurrence():
    """Against a float64 oracle, our float32 scan is as accurate as the float32 textbook loop."""
    inputs64 = random_inputs(2, 32, 16, 400, torch.float64, seed=5)
    inputs32 = {name: t.detach().float().requires_grad_() for name, t in inputs64.items()}
    options = OPTION_SETS[-1]
    grad_y64 = torch.randn_like(inputs64["u"])
    oracle, oracle_grads = outputs_and_grads(textbook_scan, inputs64, options, grad_y64)
    ours, our_grads = outputs_and_grads(torch_selective_scan, inputs32, options, grad_y64.float())
    plain, plain_grads = outputs_and_grads(textbook_scan, inputs32, options, grad_y64.float())

    def error(value, reference):
        return ((value.double() - reference).abs().max() / reference.abs().max()).item()

    assert error(ours, oracle) <= 4 * error(plain, oracle) + 1e-7
    for name in our_grads:
        assert error(our_grads[name], oracle_grads[name]) <= (
            4 * error(plain_grads[name], oracle_grads[name]) + 1e-6), name


def test_gradcheck_float64():
    inputs = random_inputs(2, 3, 2, 6, torch.float64, seed=1)
    ordered = tuple(inputs[name] for name in NAMES)

    def scan(u, delta, A, B, C, D, z, delta_bias):
        return torch_selective_scan(u, delta, A, B, C, D, z, delta_bias, True, chunk_size=4)

    assert torch.autograd.gradcheck(scan, ordered)


def test_default_chunking_matches_single_chunk():
    inputs = random_inputs(1, 64, 16, 70, torch.float64, seed=2)
    old = scan_module.CHUNK_ELEMENTS
    try:
        scan_module.CHUNK_ELEMENTS = 64 * 16 * 9  # 9 steps per chunk, ragged last chunk
        chunked = torch_selective_scan(*(inputs[name] for name in NAMES), delta_softplus=True)
    finally:
        scan_module.CHUNK_ELEMENTS = old
    whole = torch_selective_scan(*(inputs[name] for name in NAMES), delta_softplus=True)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)


def test_channels_last_views_give_the_same_result():
    """Inputs that are transposed views of [batch, L, channels] tensors (as a Linear makes them)."""
    inputs = random_inputs(2, 6, 4, 13, torch.float64, seed=6)
    views = {name: (t.detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()
                    if t.dim() == 3 else t) for name, t in inputs.items()}
    assert views["u"].stride(1) == 1
    grad_y = torch.randn(2, 6, 13, dtype=torch.float64)
    options = dict.fromkeys(("D", "z", "delta_bias", "softplus"), True)
    y_views, grads_views = outputs_and_grads(torch_selective_scan, views, options, grad_y,
                                             chunk_size=4)
    y, grads = outputs_and_grads(torch_selective_scan, inputs, options, grad_y, chunk_size=4)
    torch.testing.assert_close(y_views, y, rtol=1e-12, atol=1e-12)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_views[name], grad, rtol=1e-12, atol=1e-12)


def test_bfloat16_inputs_are_computed_in_float32():
    inputs = random_inputs(1, 4, 4, 20, torch.float32, seed=4)
    low = [inputs[name].detach().bfloat16() for name in NAMES]
    y = selective_scan(*low, delta_softplus=True)
    assert y.dtype == torch.bfloat16
    expected = textbook_scan(*(t.float() for t in low), delta_softplus=True)
    torch.testing.assert_close(y.float(), expected, rtol=1e-2, atol=1e-2)


def test_wrong_shapes_are_rejected():
    inputs = random_inputs(2, 4, 3, 5)
    with pytest.raises(ValueError, match="B and C"):
        torch_selective_scan(inputs["u"], inputs["delta"], inputs["A"],
                             inputs["B"].transpose(1, 2), inputs["C"])
    with pytest.raises(ValueError, match="A must be"):
        torch_selective_scan(inputs["u"], inputs["delta"], inputs["A"].T, inputs["B"], inputs["C"])


# ---- padding and the reversed (backward) direction ----------------------------------------------


def test_flip_valid_reverses_prefix_and_keeps_padding():
    x = torch.arange(2 * 1 * 5, dtype=torch.float32).reshape(2, 1, 5)
    flipped = flip_valid(x, torch.tensor([3, 5]))
    assert flipped.tolist() == [[[2.0, 1.0, 0.0, 3.0, 4.0]], [[9.0, 8.0, 7.0, 6.0, 5.0]]]


@pytest.mark.parametrize("lengths", [[0, 1, 9], [9, 9, 9], [4, 7, 2]])
def test_flip_valid_is_its_own_inverse(lengths):
    x = torch.randn(3, 6, 9)
    lengths = torch.tensor(lengths)
    flipped = flip_valid(x, lengths)
    torch.testing.assert_close(flip_valid(flipped, lengths), x, rtol=0, atol=0)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(flipped[b, :, n:], x[b, :, n:], rtol=0, atol=0)
        torch.testing.assert_close(flipped[b, :, :n], x[b, :, :n].flip(-1), rtol=0, atol=0)


def mask_from_lengths(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """Prefix mask from valid lengths: lengths [batch] -> bool [batch, length]."""
    return torch.arange(length, device=lengths.device) < lengths[:, None]


def test_mask_from_lengths():
    mask = mask_from_lengths(torch.tensor([3, 0, 5]), 5)
    assert mask.tolist() == [[True] * 3 + [False] * 2, [False] * 5, [True] * 5]


def padded_batch(lengths, d_inner=4, d_state=3, seed=7):
    """Random inputs padded to max(lengths) with garbage in the padding."""
    inputs = random_inputs(len(lengths), d_inner, d_state, max(lengths), torch.float64, seed=seed)
    return inputs, torch.tensor(lengths)


SEQUENCE_INPUTS = ("u", "delta", "B", "C", "z")


def sample_inputs(inputs, b, n):
    """Sample b's valid part: per-step tensors sliced to [1, ·, n], shared ones unchanged."""
    return {name: (t[b:b + 1, :, :n] if name in SEQUENCE_INPUTS else t)
            for name, t in inputs.items()}


def test_padding_does_not_change_valid_outputs_or_gradients():
    inputs, lengths = padded_batch([11, 6, 1])
    mask = mask_from_lengths(lengths, 11)[:, None, :]
    y = selective_scan(*(inputs[name] for name in NAMES), delta_softplus=True)
    grads = torch.autograd.grad((y * mask).sum(), [inputs[name] for name in NAMES])
    for b, n in enumerate(lengths.tolist()):
        one = sample_inputs(inputs, b, n)
        expected = textbook_scan(**one, delta_softplus=True)
        torch.testing.assert_close(y[b:b + 1, :, :n], expected, rtol=1e-10, atol=1e-10)
        expected_grads = dict(zip(NAMES, torch.autograd.grad(
            expected.sum(), [one[name] for name in NAMES], allow_unused=True)))
        for name, grad in zip(NAMES, grads):
            if name in SEQUENCE_INPUTS:
                torch.testing.assert_close(grad[b:b + 1, :, :n], expected_grads[name])
                assert grad[b, :, n:].abs().sum().item() == 0.0


def test_reversed_direction_via_flip_valid():
    """The backward direction: flip the valid prefix, scan, flip back = scan of each sample's
    valid part in reverse time, reversed back; padding never leaks into valid outputs."""
    inputs, lengths = padded_batch([9, 4, 7], seed=11)
    mask = mask_from_lengths(lengths, 9)[:, None, :]
    flipped = {name: (flip_valid(t, lengths) if name in SEQUENCE_INPUTS else t)
               for name, t in inputs.items()}
    y = flip_valid(selective_scan(*(flipped[name] for name in NAMES), delta_softplus=True),
                   lengths)
    grads = torch.autograd.grad((y * mask).sum(), [inputs[name] for name in NAMES])
    for b, n in enumerate(lengths.tolist()):
        one = sample_inputs(inputs, b, n)
        reversed_one = {name: (t.flip(-1) if name in SEQUENCE_INPUTS else t)
                        for name, t in one.items()}
        expected = textbook_scan(**reversed_one, delta_softplus=True).flip(-1)
        torch.testing.assert_close(y[b:b + 1, :, :n], expected, rtol=1e-10, atol=1e-10)
        expected_grads = torch.autograd.grad(expected.sum(), [one[name] for name in NAMES])
        for name, grad, expected_grad in zip(NAMES, grads, expected_grads):
            if name in SEQUENCE_INPUTS:
                torch.testing.assert_close(grad[b:b + 1, :, :n], expected_grad)
                assert grad[b, :, n:].abs().sum().item() == 0.0


# ---- backend dispatch ---------------------------------------------------------------------------


@pytest.fixture
def fresh_kernel_lookup():
    scan_module._cuda_kernel.cache_clear()
    yield
    scan_module._cuda_kernel.cache_clear()


def test_works_without_mamba_ssm(monkeypatch, fresh_kernel_lookup):
    monkeypatch.setitem(sys.modules, "mamba_ssm", None)
    monkeypatch.setitem(sys.modules, "mamba_ssm.ops.selective_scan_interface", None)
    assert scan_module._cuda_kernel() is None
    assert scan_backend_name("cpu") == scan_backend_name("cuda") == (
        "PyTorch stepwise scan (osgnet-bench)")
    inputs = random_inputs(1, 3, 2, 5)
    y = selective_scan(*(inputs[name] for name in NAMES), delta_softplus=True)
    expected = textbook_scan(*(inputs[name] for name in NAMES), delta_softplus=True)
    torch.testing.assert_close(y, expected)


def test_cuda_kernel_is_not_used_for_cpu_tensors(monkeypatch, fresh_kernel_lookup):
    calls = []

    def kernel(*args):
        calls.append(args)
        raise AssertionError("the CUDA kernel must not run on CPU tensors")

    interface = types.ModuleType("mamba_ssm.ops.selective_scan_interface")
    interface.selective_scan_fn = kernel
    for name, module in [("mamba_ssm", types.ModuleType("mamba_ssm")),
                         ("mamba_ssm.ops", types.ModuleType("mamba_ssm.ops")),
                         ("mamba_ssm.ops.selective_scan_interface", interface)]:
        monkeypatch.setitem(sys.modules, name, module)
    assert scan_backend_name("cuda") == "mamba-ssm CUDA kernel"
    assert scan_backend_name("cpu") == "PyTorch stepwise scan (osgnet-bench)"
    inputs = random_inputs(1, 3, 2, 5)
    y = selective_scan(*(inputs[name] for name in NAMES))
    torch.testing.assert_close(y, textbook_scan(*(inputs[name] for name in NAMES)))
    assert calls == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_backend_matches_cpu_backend():
    """On CUDA ``selective_scan`` (the mamba-ssm kernel when installed) equals our CPU scan."""
    cpu = random_inputs(2, 64, 16, 300, torch.float32, seed=9)
    cuda = {name: t.detach().cuda().requires_grad_() for name, t in cpu.items()}
    grad_y = torch.randn(2, 64, 300)
    y_cpu = torch_selective_scan(*(cpu[name] for name in NAMES), delta_softplus=True)
    y_cuda = selective_scan(*(cuda[name] for name in NAMES), delta_softplus=True)
    torch.testing.assert_close(y_cuda.cpu(), y_cpu, rtol=1e-3, atol=1e-3)
    grads_cpu = torch.autograd.grad(y_cpu, [cpu[name] for name in NAMES], grad_y)
    grads_cuda = torch.autograd.grad(y_cuda, [cuda[name] for name in NAMES], grad_y.cuda())
    for name, expected, got in zip(NAMES, grads_cpu, grads_cuda):
        torch.testing.assert_close(got.cpu(), expected, rtol=1e-3, atol=1e-2, msg=name)
