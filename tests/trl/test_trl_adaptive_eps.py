"""Under PPO-BR (and KL-adaptive) ε changes between generation batches, stays within its
bounds, keeps the clip-higher ratio, and is the ε TRL's loss used."""

import math

import pytest
import torch
from grpo_setup import GENERATE_EVERY, build, grpo_config, train_logs
from ppobr_trl import PPOBRGRPOTrainer

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


class _EntropyCheck(PPOBRGRPOTrainer):
    """Computes, before each update, the batch's masked mean token entropy under the policy
    and under the reference model, from each model's own logits."""

    policy: list
    reference: list

    @torch.no_grad()
    def _mean_entropy(self, model, batch) -> float:
        ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        length = batch["completion_ids"].size(1)
        logits = model(input_ids=ids, attention_mask=attention).logits[:, -length - 1 : -1]
        logp = torch.log_softmax(logits.float(), dim=-1)
        ent = -(logp.exp() * logp).sum(-1)
        mask = batch["completion_mask"]
        return float((ent * mask).sum() / mask.sum())

    def _ppobr_update(self, batch):
        self.policy = getattr(self, "policy", []) + [self._mean_entropy(self.model, batch)]
        self.reference = getattr(self, "reference", []) + [
            self._mean_entropy(self.ref_model, batch)
        ]
        super()._ppobr_update(batch)


def test_on_policy_run_measures_the_policy_entropy_not_the_reference_model(tmp_path):
    """Where TRL keeps no π_old the trainer warns and computes the entropy in its own pass; with
    beta > 0 the generation's first log-prob pass is the reference model's, which must not be
    taken for the policy's."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = build(
            grpo_config(
                str(tmp_path),
                num_iterations=1,
                steps_per_generation=1,
                max_steps=3,
                beta=0.5,
                learning_rate=3e-2,
            ),
            controller=ppobr_core.PPOBRController(eps0=0.2, window=4),
            trainer_cls=_EntropyCheck,
            saved_to=tmp_path / "model",
        )
    train_logs(trainer)
    measured = [h["entropy"] for h in trainer.ppobr_history]
    assert len(measured) == 3
    assert measured == pytest.approx(trainer.policy, rel=1e-5)
    for h in measured:
        assert 0.0 < h <= math.log(41) + 1e-6  # at most log V
    # after two optimizer steps the policy's entropy is no longer the reference model's
    assert abs(measured[-1] - trainer.reference[-1]) > 1e-4
