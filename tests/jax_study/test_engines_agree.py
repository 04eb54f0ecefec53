"""The torch and jax trainers run the same algorithm (CleanRL's PPO, the same presets): at 10
seeds their CartPole learning curves must agree statistically. A short budget (16 iterations
of 4 × 128 steps) where learning is under way: the per-seed mean return of the episodes
finished in the run's second half, torch against jax, two-sided Mann–Whitney, and each engine
clearly above its own first episodes (it learns)."""

import numpy as np
from scipy import stats

from ppobr_study import compare, runfolder

SEEDS = list(range(10))
STEPS = 8192


def _second_half_means(out, env):
    runs = runfolder.load_group(out, env, STEPS, ["ppo"], SEEDS)["ppo"]
    assert len(runs) == len(SEEDS)
    late, early = [], []
    for r in runs:
        steps, rets = r["episodes"]["global_step"], r["episodes"]["return"]
        late.append(rets[steps > STEPS / 2].mean())
        early.append(rets[:10].mean())
    return np.array(late), np.array(early)


def test_torch_and_jax_cartpole_curves_agree(tmp_path, pinned_python):
    torch_out, jax_out = tmp_path / "torch", tmp_path / "jax"
    compare.compare(
        ["CartPole-v1"], ["ppo"], SEEDS, str(STEPS), workers=2, out=str(torch_out), plots=False
    )
    # the jax trainer's shard entry point, in a child process (XLA's flags apply at start)
    proc = pinned_python(
        "import sys\nfrom ppobr_study.jax.engine import _main\nsys.exit(_main(sys.argv[1:]))\n",
        "--task",
        "CartPole-v1",
        "--controllers",
        "ppo",
        "--seeds",
        ",".join(map(str, SEEDS)),
        "--steps",
        str(STEPS),
        "--out",
        str(jax_out),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    torch_late, torch_early = _second_half_means(torch_out, "CartPole-v1")
    jax_late, jax_early = _second_half_means(jax_out, "CartPole-v1")
    p = stats.mannwhitneyu(torch_late, jax_late, alternative="two-sided").pvalue
    assert p > 0.01, (torch_late, jax_late, p)
    # both learn: the second half is well above the first episodes (random play: ~22)
    assert np.median(torch_late) > 1.5 * np.median(torch_early), (torch_late, torch_early)
    assert np.median(jax_late) > 1.5 * np.median(jax_early), (jax_late, jax_early)
