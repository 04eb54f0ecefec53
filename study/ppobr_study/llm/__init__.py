"""The GRPO study: PPO-BR's clip range inside TRL's GRPO trainer on synthetic tasks with a tiny
model trained from scratch (not a pretrained LLM), through the shared statistics of
ppobr_study.protocol. ``python -m ppobr_study.llm run|report`` (docs/RESULTS_LLM.md)."""
