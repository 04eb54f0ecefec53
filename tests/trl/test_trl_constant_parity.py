"""At a constant ε, PPOBRGRPOTrainer computes what TRL's GRPOTrainer computes: the same losses,
gradient norms and weights after training, for every loss type it supports (same seed)."""

import pytest
from grpo_setup import assert_same_training, build, grpo_config, train_logs

import ppobr_core

CASES = [
    ("grpo", {}),
    ("bnpo", {}),
    ("dr_grpo", {}),
    ("dapo", {"epsilon_high": 0.28}),
    ("luspo", {"importance_sampling_level": "sequence"}),
]


@pytest.mark.parametrize("loss_type,extra", CASES, ids=[c[0] for c in CASES])
def test_constant_eps_equals_plain_grpo(tmp_path, loss_type, extra):
    # each trainer is built right before it trains: building one seeds the global RNG
    plain = build(grpo_config(str(tmp_path / "plain"), loss_type=loss_type, **extra))
    plain_logs = train_logs(plain)
    ours = build(
        grpo_config(str(tmp_path / "ours"), loss_type=loss_type, **extra),
        controller=ppobr_core.ConstantController(0.2),
    )
    our_logs = train_logs(ours)
    assert_same_training(plain, plain_logs, ours, our_logs)
    # the trainer ran at the configured bounds, and the clip range did bind at least once
    assert ours.epsilon_low == 0.2
    assert ours.epsilon_high == extra.get("epsilon_high", 0.2)
    assert any(h["ppobr/clip_fraction"] > 0 for h in our_logs)
