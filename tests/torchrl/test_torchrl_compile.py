"""ppobr_torchrl.set_clip_epsilon under torch.compile: ε is written into ClipPPOLoss's
``clip_epsilon`` buffer in place, so a compiled loss must read the new value on each call
rather than a constant captured when it was compiled. At each ε of a sequence the compiled
loss equals an eager ClipPPOLoss built with that ε (to float32 rounding: the compiled kernels
fuse differently), and the compiled loss changes with ε."""

from __future__ import annotations

import torch
from ppobr_torchrl import set_clip_epsilon
from test_torchrl_clip import EPS_SEQUENCE, batch_with_advantage  # noqa: F401  (fixture)
from torchrl.objectives import ClipPPOLoss

KEYS = ("loss_objective", "loss_critic", "loss_entropy", "clip_fraction")


def test_compiled_loss_reads_each_new_eps(batch_with_advantage):  # noqa: F811
    actor, critic, batch = batch_with_advantage
    scheduled = ClipPPOLoss(actor, critic, clip_epsilon=0.2)
    torch._dynamo.reset()
    compiled = torch.compile(scheduled)
    objectives = []
    for eps in EPS_SEQUENCE:
        set_clip_epsilon(scheduled, eps)
        got = compiled(batch)
        want = ClipPPOLoss(actor, critic, clip_epsilon=eps)(batch)
        for key in KEYS:
            torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-6, msg=key)
        objectives.append(float(got["loss_objective"].detach()))
    assert len(set(objectives)) == len(EPS_SEQUENCE)  # the compiled loss follows ε
