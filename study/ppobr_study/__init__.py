"""ppobr_study: the study layer above ppobr_core, ppobr_torch and ppobr_jax: `ppobr compare` —
PPO vs PPO-BR (and other clip-range controllers) on gymnasium tasks — and its JAX trainer.

- :mod:`ppobr_study.cleanrl_defaults`: CleanRL's PPO hyper-parameters, read by both trainers;
- :mod:`ppobr_study.presets`: the named controller presets (ppo, ppobr, ablations, controls),
  one table from which both trainers build their controllers;
- :mod:`ppobr_study.train`: one readable CleanRL-style PPO trainer (PyTorch) taking any preset;
- :mod:`ppobr_study.compare`: ``ppobr compare``: the runs a run folder lacks, then the summaries;
- :mod:`ppobr_study.trainers`: the trainers ``ppobr compare --trainer`` runs (torch, jax, sb3);
- :mod:`ppobr_study.runner`: running the runs in worker processes or on Ray;
- :mod:`ppobr_study.summary`, :mod:`ppobr_study.tables`: the statistics of one task and their
  tables;
- :mod:`ppobr_study.protocol`: the statistics of docs/PROTOCOL.md (scipy);
- :mod:`ppobr_study.runfolder`: the resumable run folder (CSV, JSON, atomic writes);
- :mod:`ppobr_study.plots`: learning curves and ε over training (matplotlib);
- :mod:`ppobr_study.report`, :mod:`ppobr_study.reruns`: the claims tables, the rerun check;
- :mod:`ppobr_study.cli`: the ``ppobr`` console command;
- :mod:`ppobr_study.jax`: the JAX trainer (jitted PPO over gymnax / Brax, hundreds of seeds;
  ``jax.engine`` runs it for ``ppobr compare --engine jax``).

Needs the ``compare`` extra: gymnasium[classic-control], scipy, matplotlib, tqdm, torch (the
JAX trainer: the ``jaxstudy`` extra). Nothing below this layer imports it.
Importing this package imports nothing heavy; the submodules import what they need.
"""

__all__ = [
    "cleanrl_defaults",
    "cli",
    "compare",
    "plots",
    "presets",
    "protocol",
    "report",
    "reruns",
    "runfolder",
    "runner",
    "summary",
    "tables",
    "train",
    "trainers",
]
