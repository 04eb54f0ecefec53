"""PPO-BR inside TRL's GRPO and RLOO trainers: ε recomputed once per generation batch
(docs/SPEC.md §4).

TRL 1.16's GRPOTrainer and RLOOTrainer share the hooks this mixin uses: both read
``self.epsilon_low`` / ``self.epsilon_high`` in ``_compute_loss`` on every call
(``torch.clamp(coef_1, 1 - self.epsilon_low, 1 + self.epsilon_high)``), both generate one batch
of completions every ``steps_per_generation · num_iterations`` micro-steps
(``_prepare_inputs`` → ``_generate_and_score_completions``), both score it through
``_calculate_rewards`` and compute log-probs (and entropies) through
``_get_per_token_logps_and_entropies``. The mixin hooks the end of the generation: it reduces
the batch's signals, updates the controller and writes the new bounds, so every optimization
step on the batch sees the same ε_t. TRL's loss itself is untouched: at a constant ε the trainer
computes exactly what the plain trainer computes.

What differs between the two is the ratio the loss clips (see ``_ratio_inputs``) and what a
configuration can break: GRPO has loss types without a clip range and may keep no π_old;
RLOO has one clipped loss and always computes π_old's log-probs.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer, RLOOTrainer

import ppobr_core
from ppobr_torch._input_rules import require_controller
from ppobr_trl._checkpoint import load_state, save_state
from ppobr_trl._clip_range import clip_bounds, clip_higher_ratio
from ppobr_trl._clip_stats import KL_K3, RunningStats, statistics_of
from ppobr_trl._config_checks import (
    SUPPORTED_LOSS_TYPES,
    refuse_unsupported,
    require_matching_start,
    warn_if_on_policy,
)
from ppobr_trl._ratio_inputs import (
    grpo_sequence_level,
    grpo_token_level,
    joined,
    loss_mask,
    rloo_sequence_sum,
)
from ppobr_trl._signals import completion_returns, masked_entropy_sums

_REQUIRED: Any = object()
# Kernel statistics that say nothing here: the entropy is not asked for (ppobr/entropy is the
# batch's H_t; TRL logs the loss-time entropy itself) and TRL's loss has no dual clip.
_NOT_LOGGED = ("entropy", "dual_clip_fraction")


class PPOBRMixin:
    """Adds an adaptive clip range to TRL's GRPOTrainer or RLOOTrainer.

    ``controller``: a required ppobr_core controller (PPOBRController, ConstantController,
    LinearDecayController, KLAdaptiveController); ``trainer.ppobr`` is that controller. Its
    initial ε must equal ``args.epsilon``; ``args.epsilon_high / args.epsilon`` is the
    clip-higher ratio ρ kept for every ε_t.

    Per generation batch t (before its optimization steps):
    H_t = Σ m·H / Σ m over every process's completion tokens under π_old, returns = each
    completion's total reward, kl (read by KL-adaptive only) = mean k3 over batch t−1's
    optimization (NaN for t = 0); ε_t = controller.update(H_t, returns, kl=kl); (ε_low, ε_high) = (ε_t, ρ·ε_t).
    """

    def __init__(self, *args, controller: ppobr_core.Controller = _REQUIRED, **kwargs) -> None:
        if controller is _REQUIRED:
            raise TypeError("controller: is required")
        require_controller(controller)
        super().__init__(*args, **kwargs)
        self._ppobr_is_rloo = isinstance(self, RLOOTrainer)
        refuse_unsupported(self.args, None if self._ppobr_is_rloo else SUPPORTED_LOSS_TYPES)
        self._ppobr_ratio = clip_higher_ratio(self.args.epsilon, self.args.epsilon_high)
        require_matching_start(float(controller.epsilon), float(self.args.epsilon))
        warn_if_on_policy(self.args)
        # The signals are reduced over processes before the update, so every process feeds the
        # controller identical numbers and gets bit-identical ε without its own collective.
        self.ppobr = controller
        # Only KL-adaptive reads the KL: for the others the clip statistics wait for the log
        # instead of being computed at every generation batch as well.
        self._ppobr_reads_kl = controller.name == "kl_adaptive"
        self._ppobr_set_bounds(self.ppobr.epsilon)
        self._ppobr_in_generation = False
        self._ppobr_in_loss = False
        self._ppobr_gen_entropies: torch.Tensor | None = None
        self._ppobr_gen_rewards: torch.Tensor | None = None
        self._ppobr_loss_out: tuple | None = None
        self._ppobr_log_stats = RunningStats()  # since the last log
        self._ppobr_steps: list[tuple] = []  # micro-steps whose statistics are not computed yet
        self._ppobr_kl = (0.0, 0.0)  # this batch's local (Σ k3, Σ m)
        self.ppobr_history: list[dict[str, float]] = []
        # seconds spent in this mixin's own work (signals, update, statistics, its logs), for
        # the overhead benchmark: wall, and CPU (little disturbed by a loaded machine)
        self.ppobr_seconds = 0.0
        self.ppobr_cpu_seconds = 0.0

    # --- ε ---------------------------------------------------------------------------------------
    def _ppobr_set_bounds(self, eps: float) -> None:
        self.epsilon_low, self.epsilon_high = clip_bounds(eps, self._ppobr_ratio)

    def _ppobr_sum_over_processes(self, x: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return x
        return self.accelerator.reduce(x.to(self.accelerator.device), reduction="sum")

    def _ppobr_global_signals(self, ent: tuple[float, float]) -> list[float]:
        """[Σ m·H, Σ m, Σ k3, Σ m] over all processes: the batch's entropy sums and the pending
        KL sums, in one collective (none on a single process)."""
        vec = [*ent, *self._ppobr_kl]
        if self.accelerator.num_processes == 1:
            return vec
        return self._ppobr_sum_over_processes(torch.tensor(vec, dtype=torch.float64)).tolist()

    def _ppobr_pending_kl(self) -> tuple[float, float]:
        pending = torch.tensor(self._ppobr_kl, dtype=torch.float64)
        s, c = self._ppobr_sum_over_processes(pending).tolist()
        return s, c

    def _ppobr_computes_old_logps(self) -> bool:
        """Whether TRL's generation runs a π_old log-prob pass (the first one it runs), whose
        entropies are then the batch's entropies at no extra pass."""
        if self._ppobr_is_rloo:
            return True  # RLOO always computes old_logps at generation
        generate_every = self.args.steps_per_generation * self.num_iterations
        return self.args.gradient_accumulation_steps % generate_every != 0 or bool(
            self.use_vllm and self.vllm_importance_sampling_correction
        )

    def _ppobr_update(self, batch: dict[str, Any]) -> None:
        start, cpu_start = time.perf_counter(), time.process_time()
        if self._ppobr_reads_kl:
            self._ppobr_flush_clip_stats()  # the previous batch's KL is in its statistics
        entropies = self._ppobr_gen_entropies
        if entropies is None:
            entropies = self._ppobr_policy_entropies(batch)
        ent = masked_entropy_sums(entropies, loss_mask(batch))
        ent_sum, ent_count, kl_sum, kl_count = self._ppobr_global_signals(ent)
        self._ppobr_kl = (0.0, 0.0)
        entropy = ent_sum / ent_count if ent_count > 0 else math.nan
        kl_mean = kl_sum / kl_count if kl_count > 0 else math.nan
        returns, reward_mean = completion_returns(self._ppobr_gen_rewards, self.reward_weights)
        kl = kl_mean if self._ppobr_reads_kl else None
        eps = float(self.ppobr.update(entropy, returns if returns.size else None, kl=kl))
        self._ppobr_set_bounds(eps)
        diag = self.ppobr.diagnostics
        record = {
            "eps_low": self.epsilon_low,
            "eps_high": self.epsilon_high,
            "entropy": entropy,
            "kl": kl_mean,  # NaN unless the controller reads it
            "reward_mean": reward_mean,
            "phi": float(diag.get("phi", math.nan)),
            "psi": float(diag.get("psi", math.nan)),
        }
        self.ppobr_history.append(record)
        metrics = self._metrics["train"]
        for key in ("eps_low", "eps_high", "phi", "psi", "entropy"):
            metrics[f"ppobr/{key}"].append(record[key])
        self.ppobr_seconds += time.perf_counter() - start
        self.ppobr_cpu_seconds += time.process_time() - cpu_start

    @torch.no_grad()
    def _ppobr_policy_entropies(self, batch: dict[str, Any]) -> torch.Tensor:
        """One no-grad pass for π_old's token entropies, where TRL kept no π_old (ratio ≡ 1)."""
        input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        _, entropies, _ = self._get_per_token_logps_and_entropies(
            self.model,
            input_ids,
            attention,
            batch["completion_ids"].size(1),
            compute_entropy=True,
        )
        return entropies

    # --- TRL hooks -------------------------------------------------------------------------------
    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        self._ppobr_gen_entropies = None
        self._ppobr_gen_rewards = None
        self._ppobr_in_generation = self._ppobr_computes_old_logps()
        try:
            batch = super()._generate_and_score_completions(inputs)
        finally:
            self._ppobr_in_generation = False
        self._ppobr_update(batch)
        self._ppobr_gen_entropies = None
        self._ppobr_gen_rewards = None
        return batch

    def _calculate_rewards(self, *args, **kwargs):
        rewards_per_func = super()._calculate_rewards(*args, **kwargs)
        if self.model.training:
            self._ppobr_gen_rewards = rewards_per_func
        return rewards_per_func

    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
    ):
        # The generation's first pass is π_old's (TRL runs it before the reference model's):
        # asking it for entropies too costs nothing (TRL's fused head computes them anyway).
        # Only batch_size may come positionally; compute_entropy is the next parameter.
        if self._ppobr_in_generation and self._ppobr_gen_entropies is None and len(args) <= 1:
            wanted = kwargs.get("compute_entropy", False)
            kwargs["compute_entropy"] = True
            logps, entropies, aux = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
            )
            self._ppobr_gen_entropies = entropies.detach()
            return logps, (entropies if wanted else None), aux
        out = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
        )
        if self._ppobr_in_loss and self._ppobr_loss_out is None:
            self._ppobr_loss_out = out
        return out

    def _compute_loss(self, model, inputs):
        self._ppobr_in_loss = True
        self._ppobr_loss_out = None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._ppobr_in_loss = False
        if self.model.training and self._ppobr_loss_out is not None:
            self._ppobr_record_clip_stats(inputs, self._ppobr_loss_out)
        self._ppobr_loss_out = None
        return loss

    def _ppobr_record_clip_stats(self, inputs: dict[str, Any], loss_out: tuple) -> None:
        """Keeps this micro-step's loss inputs and log-probs (references, no work) and the bounds
        its loss read, for the next flush. The log-probs are kept detached: holding the loss's
        output itself would keep its whole autograd graph (and what TRL's fused log-prob head
        keeps on it) alive until the flush, and slow every step down."""
        logps = loss_out[0].detach()
        self._ppobr_steps.append((inputs, logps, self.epsilon_low, self.epsilon_high))
        metrics = self._metrics["train"]
        metrics["ppobr/loss_eps_low"].append(self.epsilon_low)
        metrics["ppobr/loss_eps_high"].append(self.epsilon_high)

    def _ppobr_flush_clip_stats(self) -> None:
        """The kernel's statistics (docs/SPEC.md §2.2) of the kept micro-steps, one call per run
        of micro-steps with the same bounds and completion length (in practice: all of them),
        folded into the log's totals and, for a controller that reads it, the batch's KL sum."""
        runs: list[tuple[tuple, list]] = []
        for inputs, logps, low, high in self._ppobr_steps:
            key = (low, high, logps.shape[1:])
            if runs and runs[-1][0] == key:
                runs[-1][1].append((inputs, logps))
            else:
                runs.append((key, [(inputs, logps)]))
        self._ppobr_steps = []
        for (low, high, _), steps in runs:
            inputs, logps = joined(steps)
            if self._ppobr_is_rloo:
                ratio = rloo_sequence_sum(inputs, logps)
            elif self.importance_sampling_level == "sequence":
                ratio = grpo_sequence_level(inputs, logps)
            else:
                ratio = grpo_token_level(inputs, logps)
            sums, counts = statistics_of(ratio, low, high)
            self._ppobr_log_stats.add(sums, counts)
            if self._ppobr_reads_kl:
                kl_sum, kl_count = self._ppobr_kl
                self._ppobr_kl = (kl_sum + float(sums[KL_K3]), kl_count + float(counts[KL_K3]))

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self.model.training:
            start, cpu_start = time.perf_counter(), time.process_time()
            metrics = self._metrics["train"]
            self._ppobr_flush_clip_stats()
            means = self._ppobr_log_stats.take_means(self.accelerator.num_processes > 1)
            if means is not None:
                for name, value in means.items():
                    if name not in _NOT_LOGGED:
                        metrics[f"ppobr/{name}"].append(value)
            if not metrics.get("ppobr/eps_low"):
                # no update since the last log: the bounds in force, for a continuous curve
                diag = self.ppobr.diagnostics
                metrics["ppobr/eps_low"].append(self.epsilon_low)
                metrics["ppobr/eps_high"].append(self.epsilon_high)
                metrics["ppobr/phi"].append(float(diag.get("phi", math.nan)))
                metrics["ppobr/psi"].append(float(diag.get("psi", math.nan)))
            self.ppobr_seconds += time.perf_counter() - start
            self.ppobr_cpu_seconds += time.process_time() - cpu_start
        super().log(logs, start_time)

    # --- checkpoints -----------------------------------------------------------------------------
    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        self._ppobr_flush_clip_stats()
        pending = self._ppobr_pending_kl()  # a collective: every process takes part
        if self.args.should_save:
            folder = os.path.join(
                self._get_output_dir(trial=trial),
                f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}",
            )
            save_state(folder, self.ppobr.state_dict(), pending)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        loaded = load_state(checkpoint)
        if loaded is None:
            return
        state, (kl_sum, kl_count) = loaded
        self.ppobr.load_state_dict(state)
        self._ppobr_set_bounds(self.ppobr.epsilon)
        # The saved KL sums are global: one process holds them so the next reduce counts them once.
        first = self.accelerator.is_main_process
        self._ppobr_kl = (kl_sum, kl_count) if first else (0.0, 0.0)


class PPOBRGRPOTrainer(PPOBRMixin, GRPOTrainer):
    """TRL's GRPOTrainer with ε from a ppobr_core controller (see :class:`PPOBRMixin`).

    trainer = PPOBRGRPOTrainer(
        model=model, reward_funcs=reward, args=GRPOConfig(..., num_iterations=2),
        train_dataset=dataset, processing_class=tokenizer,
        controller=ppobr_core.PPOBRController(eps0=0.2),
    )
    """


class PPOBRRLOOTrainer(PPOBRMixin, RLOOTrainer):
    """TRL's RLOOTrainer with ε from a ppobr_core controller (see :class:`PPOBRMixin`).

    RLOO clips one ratio per completion, r_i = exp(Σ_t log π_θ − Σ_t log π_old) (the summed log
    ratio), to [1 − ε_low, 1 + ε_high]; the clip statistics are over those ratios, and the batch
    entropy comes from the π_old pass RLOO always runs at generation.

    trainer = PPOBRRLOOTrainer(
        model=model, reward_funcs=reward, args=RLOOConfig(..., num_iterations=2),
        train_dataset=dataset, processing_class=tokenizer,
        controller=ppobr_core.PPOBRController(eps0=0.2),
    )
    """
