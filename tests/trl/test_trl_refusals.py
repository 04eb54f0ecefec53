"""What PPOBRGRPOTrainer refuses, and the on-policy warning."""

import pytest
from grpo_setup import build, grpo_config
from hypothesis import given
from hypothesis import strategies as st
from ppobr_trl import OnPolicyWarning, clip_bounds, clip_higher_ratio

import ppobr_core


def test_liger_loss_is_refused(tmp_path):
    # TRL 1.16's GRPOConfig has no use_liger_loss field; earlier releases had one and their
    # Liger loss captured ε at init. A config object carrying it set is refused.
    args = grpo_config(str(tmp_path))
    args.use_liger_loss = True
    with pytest.raises(ppobr_core.InvalidArgumentError, match="use_liger_loss") as info:
        build(args, controller=ppobr_core.PPOBRController())
    assert info.value.argument == "args.use_liger_loss"


@pytest.mark.parametrize("loss_type", ["cispo", "sapo"])
def test_loss_without_a_clip_range_is_refused(tmp_path, loss_type):
    with pytest.raises(ppobr_core.InvalidArgumentError, match="args.loss_type"):
        build(
            grpo_config(str(tmp_path), loss_type=loss_type), controller=ppobr_core.PPOBRController()
        )


def test_on_policy_configuration_warns_with_its_settings(tmp_path):
    args = grpo_config(str(tmp_path), num_iterations=1, steps_per_generation=1)
    with pytest.warns(OnPolicyWarning, match="num_iterations=1.*steps_per_generation=1"):
        build(args, controller=ppobr_core.PPOBRController())


def test_off_policy_configuration_does_not_warn(tmp_path, recwarn):
    build(grpo_config(str(tmp_path)), controller=ppobr_core.PPOBRController())
    assert not [w for w in recwarn if issubclass(w.category, OnPolicyWarning)]


def test_controller_is_required(tmp_path):
    with pytest.raises(TypeError, match="controller: is required"):
        build(grpo_config(str(tmp_path)), controller=None, trainer_cls=_NoController)
    with pytest.raises(TypeError, match="controller: expected a ppobr_core controller"):
        build(grpo_config(str(tmp_path)), controller=0.2)


def test_controller_start_must_match_config_epsilon(tmp_path):
    with pytest.raises(ppobr_core.InvalidArgumentError, match="args.epsilon"):
        build(grpo_config(str(tmp_path)), controller=ppobr_core.ConstantController(0.3))


class _NoController:
    """Calls PPOBRGRPOTrainer without its controller argument."""

    def __new__(cls, **kwargs):
        from ppobr_trl import PPOBRGRPOTrainer

        return PPOBRGRPOTrainer(**kwargs)


@given(
    eps=st.floats(0.0, 0.99),
    low0=st.floats(1e-3, 0.9),
    high0=st.one_of(st.none(), st.floats(0.0, 10.0)),
)
def test_mapping_keeps_the_clip_higher_ratio(eps, low0, high0):
    ratio = clip_higher_ratio(low0, high0)
    low, high = clip_bounds(eps, ratio)
    assert low == eps
    assert high == pytest.approx(eps * ((high0 if high0 is not None else low0) / low0))
    assert high == (eps if high0 is None else high)


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf")])
def test_mapping_refuses_a_config_epsilon_it_cannot_scale(bad):
    with pytest.raises(ppobr_core.InvalidArgumentError, match="args.epsilon"):
        clip_higher_ratio(bad, 0.28)
