"""PPO-BR inside TRL's GRPO trainer: ε recomputed once per generation batch (docs/SPEC.md §4).

TRL reads ``self.epsilon_low`` / ``self.epsilon_high`` in ``_compute_loss`` on every call, and
generates one batch of completions every ``steps_per_generation · num_iterations`` micro-steps
(``_prepare_inputs`` → ``_generate_and_score_completions``). The mixin hooks the end of that
generation: it reduces the batch's signals, updates the controller and writes the new bounds,
so every optimization step on the batch sees the same ε_t. TRL's loss itself is untouched: at
a constant ε the trainer computes exactly what GRPOTrainer computes.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import torch
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import GRPOTrainer

import ppobr_core
from ppobr_torch import STAT_NAMES, EpsilonController, StatsAccumulator
from ppobr_torch._input_rules import require_controller
from ppobr_trl._checkpoint import load_state, save_state
from ppobr_trl._clip_range import clip_bounds, clip_higher_ratio
from ppobr_trl._clip_stats import clip_statistics
from ppobr_trl._config_checks import refuse_unsupported, require_matching_start, warn_if_on_policy
from ppobr_trl._signals import completion_returns, masked_entropy_sums

_KL_K3 = STAT_NAMES.index("kl_k3")
_REQUIRED: Any = object()


def _empty_stats(device) -> tuple[torch.Tensor, torch.Tensor]:
    """(sums, counts) of no samples: ratio_min / ratio_max hold +inf / -inf, neutral for min / max."""
    sums = torch.zeros(len(STAT_NAMES), dtype=torch.float64, device=device)
    sums[STAT_NAMES.index("ratio_min")] = math.inf
    sums[STAT_NAMES.index("ratio_max")] = -math.inf
    return sums, torch.zeros_like(sums)


class PPOBRMixin:
    """Adds an adaptive clip range to a TRL trainer with GRPOTrainer's hooks.

    ``controller``: a required ppobr_core controller (PPOBRController, ConstantController,
    LinearDecayController, KLAdaptiveController). Its initial ε must equal ``args.epsilon``;
    ``args.epsilon_high / args.epsilon`` is the clip-higher ratio ρ kept for every ε_t.

    Per generation batch t (before its optimization steps):
    H_t = Σ m·H / Σ m over every process's completion tokens under π_old, returns = each
    completion's total reward, kl = mean k3 over batch t−1's optimization (NaN for t = 0);
    ε_t = controller.update(H_t, returns, kl=kl); (ε_low, ε_high) = (ε_t, ρ·ε_t).
    """

    def __init__(self, *args, controller: ppobr_core.Controller = _REQUIRED, **kwargs) -> None:
        if controller is _REQUIRED:
            raise TypeError("controller: is required")
        require_controller(controller)
        super().__init__(*args, **kwargs)
        refuse_unsupported(self.args)
        self._ppobr_ratio = clip_higher_ratio(self.args.epsilon, self.args.epsilon_high)
        require_matching_start(float(controller.epsilon), float(self.args.epsilon))
        warn_if_on_policy(self.args)
        # The signals are reduced over processes before the update, so every process feeds the
        # controller identical numbers and gets bit-identical ε without its own collective.
        self.ppobr = EpsilonController(controller, distributed=False)
        self._ppobr_set_bounds(self.ppobr.epsilon)
        self._ppobr_in_generation = False
        self._ppobr_in_loss = False
        self._ppobr_gen_entropies: torch.Tensor | None = None
        self._ppobr_gen_rewards: torch.Tensor | None = None
        self._ppobr_loss_logps: torch.Tensor | None = None
        self._ppobr_loss_entropies: torch.Tensor | None = None
        self._ppobr_log_stats = StatsAccumulator()
        self._ppobr_parts: list[tuple] = []  # micro-steps whose statistics are not computed yet
        self._ppobr_kl = torch.zeros(2, dtype=torch.float64)  # this batch's local Σ k3, Σ m
        self.ppobr_history: list[dict[str, float]] = []
        # wall seconds spent in this mixin's own work (signals, update, statistics), for overhead
        self.ppobr_seconds = 0.0
        self.ppobr_cpu_seconds = 0.0  # the same in CPU time: little disturbed by a loaded machine

    # --- ε ---------------------------------------------------------------------------------------
    def _ppobr_set_bounds(self, eps: float) -> None:
        self.epsilon_low, self.epsilon_high = clip_bounds(eps, self._ppobr_ratio)

    def _ppobr_sum_over_processes(self, x: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return x
        return self.accelerator.reduce(x.to(self.accelerator.device), reduction="sum")

    def _ppobr_pending_kl(self) -> tuple[float, float]:
        s, c = self._ppobr_sum_over_processes(self._ppobr_kl).tolist()
        return s, c

    def _ppobr_update(self, batch: dict[str, Any]) -> None:
        self._ppobr_flush_clip_stats()  # the previous batch's KL is in its statistics
        start, cpu_start = time.perf_counter(), time.process_time()
        mask = batch["completion_mask"]
        if "tool_mask" in batch:
            mask = mask * batch["tool_mask"]
        entropies = self._ppobr_gen_entropies
        if entropies is None:
            entropies = self._ppobr_policy_entropies(batch)
        sums = self._ppobr_sum_over_processes(masked_entropy_sums(entropies, mask))
        ent_sum, ent_count = sums.tolist()
        entropy = ent_sum / ent_count if ent_count > 0 else float("nan")
        returns = completion_returns(self._ppobr_gen_rewards, self.reward_weights)
        returns = returns.detach().to("cpu", torch.float64).numpy()
        kl_sum, kl_count = self._ppobr_pending_kl()
        kl = kl_sum / kl_count if kl_count > 0 else float("nan")
        self._ppobr_kl.zero_()
        eps = self.ppobr.update(entropy, returns, kl=kl)
        self._ppobr_set_bounds(eps)
        diag = self.ppobr.diagnostics
        record = {
            "eps_low": self.epsilon_low,
            "eps_high": self.epsilon_high,
            "entropy": entropy,
            "kl": kl,
            "reward_mean": float(returns[~(returns != returns)].mean())
            if returns.size
            else math.nan,
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
        _, entropies, _ = GRPOTrainer._get_per_token_logps_and_entropies(
            self,
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
        self._ppobr_in_generation = True
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
        if self._ppobr_in_generation:
            self._ppobr_gen_rewards = rewards_per_func
        return rewards_per_func

    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
    ):
        # During generation the first pass is π_old's (TRL computes it before the reference
        # model's): asking it for entropies too costs one reduction over logits it already has.
        if self._ppobr_in_generation and self._ppobr_gen_entropies is None and not args:
            wanted = kwargs.get("compute_entropy", False)
            kwargs["compute_entropy"] = True
            logps, entropies, aux = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, **kwargs
            )
            self._ppobr_gen_entropies = entropies.detach()
            return logps, (entropies if wanted else None), aux
        out = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
        )
        if self._ppobr_in_loss and self._ppobr_loss_logps is None:
            self._ppobr_loss_logps = out[0].detach()
            self._ppobr_loss_entropies = None if out[1] is None else out[1].detach()
        return out

    def _compute_loss(self, model, inputs):
        self._ppobr_in_loss = True
        self._ppobr_loss_logps = None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._ppobr_in_loss = False
        if self.model.training and self._ppobr_loss_logps is not None:
            self._ppobr_record_clip_stats(inputs)
        self._ppobr_loss_logps = None
        self._ppobr_loss_entropies = None
        return loss

    def _ppobr_record_clip_stats(self, inputs: dict[str, Any]) -> None:
        """Keeps this micro-step's tensors (references, no work) for the next flush, which
        computes their statistics in one kernel call at the ε the loss used."""
        mask = inputs["completion_mask"]
        if "tool_mask" in inputs:
            mask = mask * inputs["tool_mask"]
        self._ppobr_parts.append(
            (
                self._ppobr_loss_logps,
                inputs.get("old_per_token_logps"),
                inputs["advantages"],
                mask,
                self._ppobr_loss_entropies,
                (self.epsilon_low, self.epsilon_high),
            )
        )
        metrics = self._metrics["train"]
        metrics["ppobr/loss_eps_low"].append(self.epsilon_low)
        metrics["ppobr/loss_eps_high"].append(self.epsilon_high)

    @torch.no_grad()
    def _ppobr_flush_clip_stats(self) -> None:
        """The kernel's statistics (docs/SPEC.md §2.2) of the kept micro-steps, one call per run
        of micro-steps with the same bounds and token count (in practice: all of them)."""
        start, cpu_start = time.perf_counter(), time.process_time()
        groups: list[list] = []
        for part in self._ppobr_parts:
            key = (part[5], part[0].shape[1:])
            if groups and groups[-1][0] == key:
                groups[-1][1].append(part)
            else:
                groups.append([key, [part]])
        self._ppobr_parts = []
        for (bounds, _), parts in groups:
            sums, counts = self._ppobr_stats_of(parts, *bounds)
            self._ppobr_log_stats.add((sums, counts))
            self._ppobr_kl += torch.stack([sums[_KL_K3], counts[_KL_K3]]).to("cpu", torch.float64)
        self.ppobr_seconds += time.perf_counter() - start
        self.ppobr_cpu_seconds += time.process_time() - cpu_start

    def _ppobr_stats_of(self, parts, eps_low: float, eps_high: float):
        def cat(i):
            return torch.cat([p[i].detach() for p in parts])

        new = cat(0)
        old = torch.cat([(p[0] if p[1] is None else p[1]).detach() for p in parts])
        adv = torch.cat([p[2] if p[2].dim() == 2 else p[2].unsqueeze(1) for p in parts]).detach()
        mask = cat(3).to(new.dtype)
        entropy = None if any(p[4] is None for p in parts) else cat(4).to(new.dtype)
        adv = adv.to(new.dtype)
        if self.importance_sampling_level == "sequence":
            # One ratio per completion, as TRL's sequence-level loss forms it.
            tokens = mask.sum(-1)
            new = ((new - old) * mask).sum(-1) / tokens.clamp(min=1.0)
            old = torch.zeros_like(new)
            adv = adv[:, 0]
            entropy = None
            mask = (tokens > 0).to(new.dtype)
        else:
            adv = adv.expand_as(new)
            # Padding positions may hold anything; the kernel refuses non-finite values.
            keep = mask > 0
            new, old, adv = (torch.where(keep, x, 0.0) for x in (new, old, adv))
            if entropy is not None:
                entropy = torch.where(keep, entropy, 0.0)
        if not bool(mask.any()):
            # Nothing to count; still add, so every process reduces the same number of parts.
            return _empty_stats(new.device)
        return clip_statistics(
            new.contiguous(),
            old.contiguous(),
            adv.contiguous(),
            mask.contiguous(),
            None if entropy is None else entropy.contiguous(),
            eps_low,
            eps_high,
        )

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self.model.training:
            metrics = self._metrics["train"]
            self._ppobr_flush_clip_stats()
            if len(self._ppobr_log_stats):
                for name, value in self._ppobr_log_stats.compute().items():
                    metrics[f"ppobr/{name}"].append(value)
            diag = self.ppobr.diagnostics
            current = {
                "eps_low": self.epsilon_low,
                "eps_high": self.epsilon_high,
                "phi": float(diag.get("phi", math.nan)),
                "psi": float(diag.get("psi", math.nan)),
            }
            for key, value in current.items():
                if not metrics.get(f"ppobr/{key}"):
                    metrics[f"ppobr/{key}"].append(value)
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
        self._ppobr_kl = torch.tensor(
            [kl_sum, kl_count] if first else [0.0, 0.0], dtype=torch.float64
        )


class PPOBRGRPOTrainer(PPOBRMixin, GRPOTrainer):
    """TRL's GRPOTrainer with ε from a ppobr_core controller (see :class:`PPOBRMixin`).

    trainer = PPOBRGRPOTrainer(
        model=model, reward_funcs=reward, args=GRPOConfig(..., num_iterations=2),
        train_dataset=dataset, processing_class=tokenizer,
        controller=ppobr_core.PPOBRController(eps0=0.2),
    )
    """
