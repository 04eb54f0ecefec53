"""Under PPO-BR (and KL-adaptive) ε changes between generation batches, stays within its
bounds, keeps the clip-higher ratio, and is the ε TRL's loss used."""

import math

import pytest
from grpo_setup import GENERATE_EVERY, build, grpo_config, train_logs

import ppobr_core

BATCHES = 3


def test_ppobr_eps_moves_between_batches_within_bounds(tmp_path):
    controller = ppobr_core.PPOBRController(eps0=0.2, window=4)
    trainer = build(
        grpo_config(str(tmp_path), epsilon_high=0.28, max_steps=BATCHES * GENERATE_EVERY),
        controller=controller,
    )
    logs = train_logs(trainer)
    history = trainer.ppobr_history
    assert len(history) == BATCHES  # one update per generation batch
    lows = [h["eps_low"] for h in history]
    assert len(set(lows)) > 1, lows
    cfg = controller.config
    for h in history:
        assert cfg["eps_min_effective"] <= h["eps_low"] <= cfg["eps_max_effective"]
        assert h["eps_high"] == pytest.approx(1.4 * h["eps_low"], rel=1e-12)
        assert 0.0 <= h["phi"] <= 1.0 and 0.0 <= h["psi"] <= 1.0
        assert math.isfinite(h["entropy"]) and h["entropy"] > 0
    # every optimizer step of batch t ran at batch t's ε (one micro-step per logged step)
    for step, entry in enumerate(logs):
        batch = history[step // GENERATE_EVERY]
        assert entry["ppobr/loss_eps_low"] == batch["eps_low"]
        assert entry["ppobr/loss_eps_high"] == batch["eps_high"]


def test_loss_clips_at_the_controller_eps(tmp_path):
    """TRL's own clip counts (computed inside its loss from self.epsilon_low / _high) equal the
    kernel's sign-aware clip fractions at the controller's ε; a different ε would change them."""
    trainer = build(
        grpo_config(str(tmp_path), max_steps=BATCHES * GENERATE_EVERY, learning_rate=1e-2),
        controller=ppobr_core.PPOBRController(eps0=0.2, window=4),
    )
    logs = train_logs(trainer)
    bound = 0
    for entry in logs:
        assert entry["clip_ratio/low_mean"] == pytest.approx(
            entry["ppobr/clip_fraction_low"], abs=1e-6
        )
        assert entry["clip_ratio/high_mean"] == pytest.approx(
            entry["ppobr/clip_fraction_high"], abs=1e-6
        )
        for key in ("ppobr/kl_k1", "ppobr/kl_k2", "ppobr/kl_k3", "ppobr/ratio_mean"):
            assert math.isfinite(entry[key])
        bound += entry["ppobr/clip_fraction"] > 0
    assert bound > 0  # the clip range did bind, so the comparison above could fail


def test_kl_adaptive_reads_the_previous_batch_kl(tmp_path):
    controller = ppobr_core.KLAdaptiveController(eps0=0.2, kl_target=1e-4)
    trainer = build(
        grpo_config(str(tmp_path), max_steps=BATCHES * GENERATE_EVERY, learning_rate=1e-2),
        controller=controller,
    )
    train_logs(trainer)
    history = trainer.ppobr_history
    assert math.isnan(history[0]["kl"]) and history[0]["eps_low"] == 0.2  # nothing measured yet
    for h in history[1:]:
        assert h["kl"] > 0
    # KL far above the target shrinks ε by the controller's rate once per batch
    assert history[1]["eps_low"] == pytest.approx(0.2 / 1.5)
    assert history[2]["eps_low"] < history[1]["eps_low"]


def test_on_policy_run_still_measures_the_batch_entropy(tmp_path):
    """Where TRL keeps no π_old the trainer warns, and computes the entropy in its own pass."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = build(
            grpo_config(str(tmp_path), num_iterations=1, steps_per_generation=1, max_steps=2),
            controller=ppobr_core.PPOBRController(eps0=0.2, window=4),
        )
    train_logs(trainer)
    assert len(trainer.ppobr_history) == 2
    for h in trainer.ppobr_history:
        assert 0.0 < h["entropy"] <= math.log(41) + 1e-6  # at most log V
