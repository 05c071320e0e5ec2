"""Time and peak memory of our selective scan against plain-autograd loops on CPU.

The headline is ours against (b), the best plain loop: that is the speed-up a user gets over
writing the recurrence in PyTorch well. Implementations (all with D, z, delta_bias and softplus,
as the bidirectional Mamba calls them):

* ours      - ``trainers.model.selective_scan.torch_selective_scan`` (hand-written backward).
* stepwise  - baseline (b), the best plain-autograd loop we wrote: time-major slices from
              ``unbind``, one ``addcmul`` per step, states stacked, outputs by one matmul.
* reference - baseline (a), the recurrence laid out like mamba-ssm's reference function: the
              all-step tensors exp(ΔA) and ΔBu of shape [b, d, L, n] are built first, step i is
              indexed out of them in a Python loop and the outputs are stacked. Its backward is
              quadratic in L (autograd turns each of the L step indexings into a full-size
              [b, d, L, n] gradient), so its forward+backward ratio grows with L and says more
              about that layout than about our scan; it is printed for completeness.

Every measurement runs in a fresh single-threaded subprocess. Times are CPU seconds of that
process (``time.process_time``), best of ``--repeats`` runs: on a shared machine they vary far
less than wall-clock times. Peak memory is the process's RSS high-water mark (VmHWM, reset just
before the first timed run) above the RSS it had at that moment; a tiny warm-up run before that
loads the code paths, so library pages do not count. Linux only (it reads /proc). The
reference baseline gets one run and is stopped once it has used ``--baseline-budget`` CPU
seconds; the table then shows bounds (``>``, ``>=``): the CPU time and the peak memory it had
reached. Usage::

    python bench/scan.py            # L = 256, 1024, 2560 (about 7 CPU minutes, most of them
                                    # the reference baseline's two stopped runs)
    python bench/scan.py --quick    # L = 256, 1024, reference stopped after 60 CPU s
    python bench/scan.py --lengths 1024 2560 --passes forward+backward --baseline-budget 600
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IMPLEMENTATIONS = ("ours", "stepwise", "reference")
MODES = ("forward", "forward+backward")


@dataclass(frozen=True)
class Measurement:
    """One subprocess's result; ``finished`` is False when it was stopped at the CPU budget."""

    seconds: float
    peak_mib: float
    finished: bool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L = 256, 1024; budget 60 s")
    parser.add_argument("--lengths", type=int, nargs="+", help="sequence lengths L")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--d-inner", type=int, default=1024)
    parser.add_argument("--d-state", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (ours, stepwise)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument(
        "--baseline-budget",
        type=float,
        help="CPU seconds after which the reference baseline is stopped (default 150, 60 with --quick)",
    )
    parser.add_argument(
        "--passes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="what to time: forward, forward+backward or both",
    )
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "MODE", "L"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        impl, mode, length = args.worker
        run_worker(impl, mode, int(length), args)
        return
    lengths = args.lengths or ([256, 1024] if args.quick else [256, 1024, 2560])
    budget = args.baseline_budget or (60.0 if args.quick else 150.0)
    check_agreement()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads {args.threads}, "
        f"batch {args.batch}, d_inner {args.d_inner}, d_state {args.d_state}, float32; "
        f"CPU seconds; reference baseline stopped after {budget:.0f} CPU s",
        flush=True,
    )
    measured: dict[tuple[int, str], dict[str, Measurement]] = {}
    for length in lengths:
        for mode in args.passes:
            measured[length, mode] = {
                impl: measure(impl, mode, length, args, budget if impl == "reference" else None)
                for impl in IMPLEMENTATIONS
            }
            print(" | ".join(format_row(length, mode, measured[length, mode])), flush=True)
    print()
    print(headline(measured))
    print_table([format_row(length, mode, results) for (length, mode), results in measured.items()])


def check_agreement() -> None:
    """Stop unless the three implementations give the same outputs and gradients (float64)."""
    import torch

    results = []
    for scan in (our_scan, stepwise_scan, reference_layout_scan):
        inputs = [t.detach().double().requires_grad_() for t in random_inputs(2, 8, 4, 37)]
        y = scan(*inputs)
        results.append([y, *torch.autograd.grad(y.square().sum(), inputs)])
    for other in results[1:]:
        for ours, theirs in zip(results[0], other, strict=True):
            torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


def measure(impl: str, mode: str, length: int, args: argparse.Namespace, cpu_budget: float | None) -> Measurement:
    """Run one worker subprocess and collect its time and peak memory."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        impl,
        mode,
        str(length),
        "--batch",
        str(args.batch),
        "--d-inner",
        str(args.d_inner),
        "--d-state",
        str(args.d_state),
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first_line = process.stdout.readline()
    if not first_line:
        raise SystemExit(f"worker {impl} {mode} L={length} failed before its first run")
    start = json.loads(first_line)
    while process.poll() is None:
        used = cpu_seconds(process.pid) - start["cpu_s"]
        if cpu_budget is not None and used > cpu_budget:
            high_water_kib = read_memory_kib(process.pid, "VmHWM")
            process.kill()
            process.wait()
            peak = (high_water_kib - start["rss_kib"]) / 1024
            return Measurement(used, peak, finished=False)
        time.sleep(0.2)
    if process.returncode != 0:
        raise SystemExit(f"worker {impl} {mode} L={length} failed")
    result = json.loads(process.stdout.read().splitlines()[-1])
    return Measurement(result["cpu_s"], result["peak_mib"], finished=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_memory_kib(pid: int, field: str) -> int:
    """A memory field of /proc/PID/status in KiB: VmRSS (now) or VmHWM (peak since reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def headline(measured: dict[tuple[int, str], dict[str, Measurement]]) -> str:
    """Ours against (b), the best plain loop, per pass over all lengths; then (a) for what it is."""
    lines = []
    for mode in MODES:
        rows = {length: results for (length, pass_), results in measured.items() if pass_ == mode}
        if not rows:
            continue
        ratios = [results["stepwise"].seconds / results["ours"].seconds for results in rows.values()]
        lengths = ", ".join(str(length) for length in rows)
        lines.append(
            f"{mode}: ours is {min(ratios):.1f}-{max(ratios):.1f}x faster than (b), the best plain autograd loop "
            f"(L = {lengths})"
        )
        if mode == "forward+backward":
            reference = ", ".join(
                f"{ratio_text(results['reference'], results['ours'])} at L = {length}"
                for length, results in rows.items()
            )
            lines.append(
                f"  (a), mamba-ssm's reference layout: {reference}; its backward is quadratic in L, so this "
                "ratio grows with L and measures that layout, not our scan"
            )
    return "\n".join(lines)


def ratio_text(baseline: Measurement, ours: Measurement) -> str:
    """``baseline / ours`` as ``5.9x``, or a lower bound ``>526x`` when the baseline was stopped."""
    speedup = baseline.seconds / ours.seconds
    return f"{speedup:.1f}x" if baseline.finished else f">{speedup:.0f}x"


def format_row(length: int, mode: str, results: dict[str, Measurement]) -> list[str]:
    """Table row: ours against (b) (time, ratio, memory), then against (a)."""
    ours = results["ours"]

    def seconds(m: Measurement) -> str:
        return f"{m.seconds:.3f}" if m.finished else f">{m.seconds:.0f}"

    def memory(m: Measurement) -> str:
        return f"{m.peak_mib:.0f}" if m.finished else f">={m.peak_mib:.0f}"

    stepwise, reference = results["stepwise"], results["reference"]
    return [
        str(length),
        mode,
        seconds(ours),
        seconds(stepwise),
        ratio_text(stepwise, ours),
        memory(ours),
        memory(stepwise),
        seconds(reference),
        ratio_text(reference, ours),
        memory(reference),
    ]


def print_table(rows: list[list[str]]) -> None:
    from tabulate import tabulate

    headers = [
        "L",
        "pass",
        "ours s",
        "(b) loop s",
        "(b)/ours",
        "ours MiB",
        "(b) MiB",
        "(a) ref. layout s",
        "(a)/ours",
        "(a) MiB",
    ]
    print()
    print(tabulate(rows, headers=headers, tablefmt="github"))


def run_worker(impl: str, mode: str, length: int, args: argparse.Namespace) -> None:
    """Time one implementation in this process; print the start RSS and CPU time first, the
    result last."""
    import torch

    torch.set_num_threads(args.threads)
    scan = {"ours": our_scan, "stepwise": stepwise_scan, "reference": reference_layout_scan}[impl]
    inputs = random_inputs(args.batch, args.d_inner, args.d_state, length)
    grad_y = torch.randn(args.batch, args.d_inner, length)

    def run(scan_inputs: list[torch.Tensor], grad: torch.Tensor) -> None:
        for tensor in scan_inputs:
            tensor.grad = None
        y = scan(*scan_inputs)
        if mode == "forward+backward":
            y.backward(grad)

    run(random_inputs(args.batch, args.d_inner, args.d_state, 8), grad_y[..., :8])
    reset_high_water()
    start_kib = read_memory_kib(os.getpid(), "VmRSS")
    print(json.dumps({"rss_kib": start_kib, "cpu_s": time.process_time()}), flush=True)
    best = float("inf")
    for _ in range(1 if impl == "reference" else args.repeats):
        started = time.process_time()
        run(inputs, grad_y)
        best = min(best, time.process_time() - started)
    peak_kib = read_memory_kib(os.getpid(), "VmHWM") - start_kib
    print(json.dumps({"cpu_s": best, "peak_mib": peak_kib / 1024}))


def reset_high_water() -> None:
    """Reset this process's RSS high-water mark (VmHWM) to its current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def random_inputs(batch: int, d_inner: int, d_state: int, length: int) -> list[torch.Tensor]:
    """u, delta, A, B, C, D, z, delta_bias as the bidirectional Mamba feeds them, all leaves."""
    import torch

    generator = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    A = -torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
    delta_bias = torch.log(torch.expm1(torch.full((d_inner,), 0.01)))
    tensors = [
        rand(batch, d_inner, length),
        0.5 * rand(batch, d_inner, length),
        A,
        rand(batch, d_state, length),
        rand(batch, d_state, length),
        torch.ones(d_inner),
        rand(batch, d_inner, length),
        delta_bias,
    ]
    return [tensor.requires_grad_() for tensor in tensors]


def _gate(y: torch.Tensor, u: torch.Tensor, D: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """y + D u, times silu(z): y, u, z [b, d, L]; D [d]."""
    import torch.nn.functional as F

    return (y + D[:, None] * u) * F.silu(z)


def our_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    z: torch.Tensor,
    delta_bias: torch.Tensor,
) -> torch.Tensor:
    """Ours, with the baselines' arguments (softplus on)."""
    from trainers.model.selective_scan import torch_selective_scan

    return torch_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True)


def stepwise_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    z: torch.Tensor,
    delta_bias: torch.Tensor,
) -> torch.Tensor:
    """Baseline (b): plain autograd, one addcmul per step over time-major ``unbind`` slices."""
    import torch
    import torch.nn.functional as F

    delta = F.softplus(delta + delta_bias[:, None])
    decays = torch.exp(delta.permute(2, 0, 1)[..., None] * A).unbind(0)  # L x [b, d, n]
    inputs = ((delta * u).permute(2, 0, 1)[..., None] * B.permute(2, 0, 1)[:, :, None, :]).unbind(0)
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    states = []
    for decay, step_input in zip(decays, inputs, strict=True):
        state = torch.addcmul(step_input, decay, state)
        states.append(state)
    y = torch.matmul(torch.stack(states), C.permute(2, 0, 1)[..., None])[..., 0]  # [L, b, d]
    return _gate(y.permute(1, 2, 0), u, D, z)


def reference_layout_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    z: torch.Tensor,
    delta_bias: torch.Tensor,
) -> torch.Tensor:
    """Baseline (a): exp(ΔA) and ΔBu built for all steps as [b, d, L, n], indexed step by step.
    The backward of each ``[:, :, i]`` is a zero-filled [b, d, L, n] gradient: quadratic in L."""
    import torch
    import torch.nn.functional as F

    delta = F.softplus(delta + delta_bias[:, None])
    decay = torch.exp(delta[..., None] * A[:, None, :])
    step_input = (delta * u)[..., None] * B.transpose(1, 2)[:, None, :, :]
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    outputs = []
    for i in range(u.shape[-1]):
        state = decay[:, :, i] * state + step_input[:, :, i]
        outputs.append((state * C[:, None, :, i]).sum(-1))
    return _gate(torch.stack(outputs, dim=-1), u, D, z)


if __name__ == "__main__":
    main()
