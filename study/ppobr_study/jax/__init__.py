"""The study's JAX trainer: PPO vs PPO-BR as one jitted program per task, vmapped over
controllers and seeds, on gymnax and Brax tasks; ``ppobr compare``'s run folder and statistics.

    python -m ppobr_study.jax --config cpu_small --out runs/jax_study     # a shipped config
    python -m ppobr_study.jax --config my_study.toml --out runs/my_study  # a config file

Needs the ``jaxstudy`` extra (jax, gymnax, optax; brax for the Brax tasks). See study/README.md
in the repository. Modules: config (the TOML config and the shipped configs/), envs (gymnax /
Brax behind one interface), controllers (ppobr_study.presets as ppobr_jax controllers), ppo
(the jitted trainer), study (programs, run folder, throughput), cli (the command).
Importing this package imports nothing heavy; the submodules import what they need.
"""
