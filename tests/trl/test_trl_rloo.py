"""PPOBRRLOOTrainer: the mixin on TRL's RLOOTrainer, which reads epsilon_low / epsilon_high in
its loss as GRPOTrainer does. At a constant ε it computes what RLOOTrainer computes; under
PPO-BR ε changes between generation batches, and the loss clips at the controller's ε."""

import math

import pytest
from grpo_setup import GENERATE_EVERY, assert_same_training, build, rloo_config, train_logs
from ppobr_trl import PPOBRRLOOTrainer
from trl import RLOOTrainer

import ppobr_core

BATCHES = 3


def test_constant_eps_equals_plain_rloo(tmp_path):
    plain = build(rloo_config(str(tmp_path / "plain")), trainer_cls=RLOOTrainer)
    plain_logs = train_logs(plain)
    ours = build(
        rloo_config(str(tmp_path / "ours")),
        controller=ppobr_core.ConstantController(0.2),
        trainer_cls=PPOBRRLOOTrainer,
    )
    our_logs = train_logs(ours)
    assert_same_training(plain, plain_logs, ours, our_logs)
    assert len(ours.ppobr_history) == 1  # one generation batch in 4 steps
    assert any(h["ppobr/clip_fraction"] > 0 for h in our_logs)  # the clip range did bind


def test_ppobr_moves_eps_between_batches_and_the_loss_clips_there(tmp_path):
    controller = ppobr_core.PPOBRController(eps0=0.2, window=4)
    trainer = build(
        rloo_config(str(tmp_path), max_steps=BATCHES * GENERATE_EVERY, learning_rate=1e-2),
        controller=controller,
        trainer_cls=PPOBRRLOOTrainer,
    )
    logs = train_logs(trainer)
    history = trainer.ppobr_history
    assert len(history) == BATCHES
    lows = [h["eps_low"] for h in history]
    assert len(set(lows)) > 1, lows
    for h in history:
        assert math.isfinite(h["entropy"]) and 0 < h["entropy"] <= math.log(41) + 1e-6
    bound = 0
    for step, entry in enumerate(logs):
        batch = history[step // GENERATE_EVERY]
        assert entry["ppobr/loss_eps_low"] == batch["eps_low"]
        # RLOO's own clip counts, over its per-completion ratios at self.epsilon_low / _high,
        # equal the kernel's sign-aware clip fractions at the controller's ε
        assert entry["clip_ratio/low_mean"] == pytest.approx(
            entry["ppobr/clip_fraction_low"], abs=1e-6
        )
        assert entry["clip_ratio/high_mean"] == pytest.approx(
            entry["ppobr/clip_fraction_high"], abs=1e-6
        )
        bound += entry["ppobr/clip_fraction"] > 0
    assert bound > 0
