"""The controller's state goes into the checkpoint and a resumed run continues the same ε
sequence (checkpoint taken at a generation-batch boundary)."""

import json
import os

from grpo_setup import GENERATE_EVERY, build, grpo_config, train_logs
from ppobr_trl._checkpoint import STATE_FILE, load_state, save_state

import ppobr_core


def _controller():
    return ppobr_core.PPOBRController(eps0=0.2, window=4)


def test_resumed_run_continues_the_eps_sequence(tmp_path):
    steps = 3 * GENERATE_EVERY
    common = dict(max_steps=steps, save_strategy="steps", save_steps=GENERATE_EVERY)
    full = build(grpo_config(str(tmp_path / "full"), **common), controller=_controller())
    train_logs(full)
    full_eps = [h["eps_low"] for h in full.ppobr_history]
    assert len(set(full_eps)) == 3

    checkpoint = tmp_path / "full" / f"checkpoint-{GENERATE_EVERY}"
    with open(checkpoint / STATE_FILE) as f:
        assert json.load(f)["controller"] == "ppobr"

    resumed = build(grpo_config(str(tmp_path / "resumed"), **common), controller=_controller())
    resumed.train(resume_from_checkpoint=str(checkpoint))
    resumed_eps = [h["eps_low"] for h in resumed.ppobr_history]
    assert resumed_eps == full_eps[1:]
    assert resumed.ppobr.state_dict() == full.ppobr.state_dict()


def test_state_file_round_trip(tmp_path):
    controller = _controller()
    controller.update(2.0, [1.0, 2.0, 3.0, 4.0])
    save_state(str(tmp_path), controller.state_dict(), (0.5, 4.0))
    state, pending = load_state(str(tmp_path))
    restored = _controller()
    restored.load_state_dict(state)
    assert restored.state_dict() == controller.state_dict()
    assert pending == (0.5, 4.0)
    os.remove(tmp_path / STATE_FILE)
    assert load_state(str(tmp_path)) is None  # a checkpoint written without PPO-BR
