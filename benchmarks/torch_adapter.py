"""Per-call time of ppobr_torch's loss + backward against the same loss in eager torch.

    PYTHONPATH=adapters python benchmarks/torch_adapter.py            # CPU, one thread
    PYTHONPATH=adapters python benchmarks/torch_adapter.py --json out.json

CPU (float32, torch.set_num_threads(1), the core single-threaded), N = 1e3 ... 1e6:
- adapter:  ppobr_torch.clipped_surrogate_loss (the fused C++ kernel in an autograd.Function)
            computing loss, gradient and all 11 statistics, then .backward();
- eager:    the same loss and statistics as torch operations (ppobr_torch.torch_surrogate run
            eagerly, the adapter's own pure-torch path), then .backward();
- eager-min: the CleanRL formula (ratio, clamp, max, mean) with CleanRL's two logged
            statistics (clip fraction, approx KL k3), then .backward() — a lower bound for eager.
The bar: adapter >= 3x faster than eager at N <= 1e4 and never slower.

With a CUDA device it also times the CUDA path (the torch expression) eagerly and under
torch.compile, and counts host-device syncs of a minibatch step (adapter loss + backward +
StatsAccumulator.add) with torch.cuda.set_sync_debug_mode("error"): must be 0.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

import ppobr_torch as pt


def make(n, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    lpo = -torch.rand(n, generator=g) * 3 - 0.1
    lpn = lpo + torch.randn(n, generator=g) * 0.3
    adv = torch.randn(n, generator=g)
    ent = torch.rand(n, generator=g)
    return [t.to(device=device, dtype=dtype) for t in (lpn, lpo, adv, ent)]


def adapter_step(x, lpo, adv, ent, eps):
    out = pt.clipped_surrogate_loss(x, lpo, adv, eps, entropy=ent)
    out.loss.backward()
    return out


def eager_step(x, lpo, adv, ent, eps):
    out = pt.torch_surrogate(x, lpo, adv, eps, eps, entropy=ent)
    out.loss.backward()
    return out


def eager_min_step(x, lpo, adv, ent, eps):
    # cleanrl/ppo.py's policy loss and its two logged statistics
    logratio = x - lpo
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > eps).float().mean()
    pg_loss = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - eps, 1 + eps)).mean()
    pg_loss.backward()
    return pg_loss, approx_kl, clipfrac


def time_calls(fns, x, args, *, min_time=1.0, sync=lambda: None):
    """Median seconds per call of each fn. The fns are timed in interleaved rounds (a batch of
    calls of each, in turn), so that a shared, busy machine slows them alike."""

    def run(fn, k):
        t0 = time.perf_counter()
        for _ in range(k):
            x.grad = None
            fn(x, *args)
        sync()
        return (time.perf_counter() - t0) / k

    inner = {}
    for name, fn in fns.items():
        run(fn, 3)  # warm-up
        inner[name] = max(1, int(0.02 / max(run(fn, 1), 1e-7)))
    samples = {name: [] for name in fns}
    t_end = time.perf_counter() + min_time * len(fns)
    while time.perf_counter() < t_end or min(len(v) for v in samples.values()) < 7:
        for name, fn in fns.items():
            samples[name].append(run(fn, inner[name]))
    return {name: (statistics.median(v), min(v)) for name, v in samples.items()}


def bench_cpu(sizes, eps=0.2):
    torch.set_num_threads(1)
    rows = []
    for n in sizes:
        lpn, lpo, adv, ent = make(n)
        x = lpn.clone().requires_grad_(True)
        fns = {"adapter": adapter_step, "eager": eager_step, "eager-min": eager_min_step}
        t = time_calls(fns, x, (lpo, adv, ent, eps))
        row = {"n": n}
        for k, (med, best) in t.items():
            row[k + "_us"] = med * 1e6
            row[k + "_best_us"] = best * 1e6
        for base in ("eager", "eager-min"):
            row[f"speedup_vs_{base}"] = t[base][0] / t["adapter"][0]
            row[f"speedup_vs_{base}_best"] = t[base][1] / t["adapter"][1]
        rows.append(row)
    return rows


def bench_cuda(sizes, eps=0.2):
    dev = "cuda"
    sync = torch.cuda.synchronize
    compiled = torch.compile(_fwd)
    rows = []
    for n in sizes:
        lpn, lpo, adv, ent = make(n, device=dev)
        eps_t = torch.tensor(eps, device=dev)
        x = lpn.clone().requires_grad_(True)

        def comp_step(x, lpo, adv, ent, eps_t):
            out = compiled(x, lpo, adv, ent, eps_t)
            out[0].backward()
            return out

        t = time_calls(
            {"adapter": adapter_step, "compiled": comp_step}, x, (lpo, adv, ent, eps_t), sync=sync
        )
        t_min = time_calls({"eager-min": eager_min_step}, x, (lpo, adv, ent, eps), sync=sync)
        t_adapter, t_comp, t_eager_min = t["adapter"][0], t["compiled"][0], t_min["eager-min"][0]
        rows.append(
            dict(
                n=n,
                adapter_us=t_adapter * 1e6,
                eager_min_us=t_eager_min * 1e6,
                compiled_us=t_comp * 1e6,
            )
        )
    return rows


def _fwd(x, lpo, adv, ent, eps_t):
    return pt.torch_surrogate(x, lpo, adv, eps_t, eps_t, entropy=ent)


def count_cuda_syncs(n=4096, minibatches=8):
    """Host-device syncs of `minibatches` adapter steps (loss, backward, accumulate): the
    sync debug mode raises on the first one, so reaching the end means 0."""
    lpn, lpo, adv, ent = make(n * minibatches, device="cuda")
    ctl = pt.EpsilonController(__import__("ppobr_core").ConstantController(0.2))
    eps_t = ctl.epsilon_tensor("cuda")
    acc = pt.StatsAccumulator()
    x = lpn.clone().requires_grad_(True)
    for warm in (True, False):
        torch.cuda.synchronize()
        if not warm:
            torch.cuda.set_sync_debug_mode("error")
        try:
            for start in range(0, n * minibatches, n):
                idx = slice(start, start + n)
                out = pt.clipped_surrogate_loss(x[idx], lpo[idx], adv[idx], eps_t, entropy=ent[idx])
                out.loss.backward()
                acc.add(out)
        except RuntimeError as e:
            torch.cuda.set_sync_debug_mode("default")
            return f"sync detected: {e}"
        finally:
            torch.cuda.set_sync_debug_mode("default")
    acc.compute()  # the one host transfer per iteration (outside the checked region)
    return 0


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=str, default="1000,10000,100000,1000000")
    ap.add_argument("--json", type=str, default=None)
    ap.add_argument("--no-cuda", action="store_true")
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    result = {
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpu": bench_cpu(sizes),
    }
    print(
        f"CPU, float32, 1 thread (torch {torch.__version__}); per call: loss + statistics + backward;"
    )
    print("median of interleaved rounds (best round in brackets), µs")
    print(
        "| N | adapter | eager, same loss + stats | eager, CleanRL loss | adapter vs eager | adapter vs CleanRL |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    ok = True
    for r in result["cpu"]:
        print(
            f"| {r['n']:.0e} | {r['adapter_us']:.1f} ({r['adapter_best_us']:.1f}) "
            f"| {r['eager_us']:.1f} ({r['eager_best_us']:.1f}) "
            f"| {r['eager-min_us']:.1f} ({r['eager-min_best_us']:.1f}) "
            f"| {r['speedup_vs_eager']:.2f}× ({r['speedup_vs_eager_best']:.2f}×) "
            f"| {r['speedup_vs_eager-min']:.2f}× ({r['speedup_vs_eager-min_best']:.2f}×) |"
        )
        need = 3.0 if r["n"] <= 10_000 else 1.0
        ok &= r["speedup_vs_eager"] >= need
    print(f"bar on medians (≥3× eager at N ≤ 1e4, never slower): {'met' if ok else 'NOT met'}")
    if torch.cuda.is_available() and not args.no_cuda:
        result["cuda"] = bench_cuda(sizes)
        result["cuda_syncs_per_minibatch"] = count_cuda_syncs()
        print(f"\nCUDA ({torch.cuda.get_device_name()}), float32")
        print("| N | adapter = torch path (µs) | eager CleanRL (µs) | torch.compile (µs) |")
        print("|---:|---:|---:|---:|")
        for r in result["cuda"]:
            print(
                f"| {r['n']:.0e} | {r['adapter_us']:.1f} | {r['eager_min_us']:.1f} | {r['compiled_us']:.1f} |"
            )
        print(f"host-device syncs per minibatch: {result['cuda_syncs_per_minibatch']}")
    result["bar_met"] = bool(ok)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
