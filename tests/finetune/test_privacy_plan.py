"""The privacy plan: mechanism, sampling, delta and noise resolved before any training.

Real Opacus accountants (RDP: fast); no model, no torch training."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("opacus")

from thresher.config import FinetuneConfig
from thresher.errors import ConfigError
from thresher.finetune import train
from thresher.finetune.privacy import (
    DELTA_DEFAULT_RULE,
    PrivacyPlan,
    budget_warning_after,
    budget_warning_before,
    default_delta,
)


def _config(**settings) -> FinetuneConfig:
    return FinetuneConfig.model_validate({"accountant": "rdp", **settings})


@pytest.mark.parametrize(
    ("settings", "units", "expected"),
    [
        # record level, default delta, q = 16/200, steps = round(2 / q)
        (
            {"epsilon": 3.0, "batch_size": 16, "epochs": 2},
            200,
            {"unit": "record", "sampling_rate": 0.08, "steps": 25, "delta": 1e-5},
        ),
        # user level with a given delta
        (
            {"epsilon": 3.0, "unit_field": "author", "delta": 1e-6, "batch_size": 4},
            40,
            {"unit": "user", "sampling_rate": 0.1, "steps": 30, "delta": 1e-6},
        ),
        # more units than the cap's 1/(2N) point: delta = 1/(2N)
        (
            {"epsilon": 8.0, "batch_size": 1000, "epochs": 1},
            10**6,
            {"unit": "record", "sampling_rate": 0.001, "steps": 1000, "delta": 5e-7},
        ),
        # batch >= units: every unit in every step, one step per epoch
        (
            {"epsilon": 8.0, "batch_size": 64, "epochs": 3},
            40,
            {"unit": "record", "sampling_rate": 1.0, "steps": 3, "delta": 1e-5},
        ),
    ],
)
def test_plan_resolves_sampling_steps_and_delta(settings, units, expected):
    config = _config(**settings)
    plan = PrivacyPlan.for_run(config, units=units)
    numbers = {key: value for key, value in expected.items() if key != "unit"}
    assert plan.unit == expected["unit"]
    assert {key: getattr(plan, key) for key in numbers} == pytest.approx(numbers)
    assert plan.units == units and plan.batch_size == config.batch_size
    assert plan.delta_rule == ("given" if config.delta is not None else DELTA_DEFAULT_RULE)
    assert plan.unit_field == config.unit_field
    assert plan.accountant == "rdp" and plan.max_grad_norm == config.max_grad_norm
    # sigma is the accountant's for the target: never above it, within its tolerance
    assert plan.noise_multiplier == train.noise_for(
        config.epsilon, plan.delta, plan.sampling_rate, plan.steps, "rdp"
    )
    assert config.epsilon - 0.05 <= plan.epsilon_planned <= config.epsilon
    assert plan.epsilon_target == config.epsilon


def test_expected_batch_size_is_the_expected_units_per_step():
    assert PrivacyPlan.for_run(_config(batch_size=16), units=200).expected_batch_size == 16.0
    # q capped at 1: every one of the 40 units joins every step
    assert PrivacyPlan.for_run(_config(batch_size=64), units=40).expected_batch_size == 40.0


def test_epsilon_after_grows_with_steps_from_zero():
    plan = PrivacyPlan.for_run(_config(epsilon=3.0, batch_size=16, epochs=2), units=200)
    charged = [plan.epsilon_after(s) for s in (0, 1, 10, plan.steps)]
    assert charged[0] == 0.0
    assert charged == sorted(charged) and len(set(charged)) == 4
    assert charged[-1] == plan.epsilon_planned
    assert plan.epsilon_after(10) == train.epsilon_for(
        plan.noise_multiplier, plan.sampling_rate, 10, plan.delta, "rdp"
    )


def test_a_given_sigma_is_used_as_is_and_has_no_target():
    plan = PrivacyPlan.for_run(_config(epsilon=None, noise_multiplier=1.25), units=100)
    assert plan.noise_multiplier == 1.25 and plan.epsilon_target is None
    assert plan.epsilon_planned > 0


def test_a_resumed_runs_sigma_wins_over_the_settings():
    config = _config(epsilon=3.0, batch_size=16)
    searched = PrivacyPlan.for_run(config, units=200).noise_multiplier
    resumed = PrivacyPlan.for_run(config, units=200, noise_multiplier=0.9)
    assert resumed.noise_multiplier == 0.9 != searched
    assert resumed.epsilon_target == 3.0


def test_an_unreachable_target_is_a_config_error_naming_the_flag():
    with pytest.raises(ConfigError, match=r"--epsilon 1e-06 cannot be reached with 3 steps"):
        PrivacyPlan.for_run(_config(epsilon=1e-6, batch_size=64, epochs=3), units=40)


def test_the_plan_is_frozen_and_describes_itself_for_report_and_ledger():
    plan = PrivacyPlan.for_run(_config(epsilon=3.0, unit_field="author"), units=50)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.noise_multiplier = 0.1  # type: ignore[misc]
    assert plan.describe() == {
        "unit": "user",
        "unit_field": "author",
        "units": 50,
        "delta": default_delta(50),
        "delta_rule": DELTA_DEFAULT_RULE,
        "noise_multiplier": plan.noise_multiplier,
        "max_grad_norm": 1.0,
        "sampling_rate": plan.sampling_rate,
        "accountant": "rdp",
        "secure_mode": False,
    }
    assert plan.ledger_fields() == {
        **plan.describe(),
        "epsilon_target": 3.0,
        "epsilon_planned": plan.epsilon_planned,
        "expected_batch_size": 32,
        "steps_planned": plan.steps,
    }


def test_budget_warnings():
    plan = PrivacyPlan.for_run(_config(epsilon=3.0, batch_size=16, epochs=2), units=200)
    earlier = {"epsilon": 5.0, "runs": 2}
    reach = 5.0 + plan.epsilon_planned
    assert budget_warning_before(plan, earlier, budget=10.0) is None
    assert budget_warning_before(plan, earlier, budget=7.0) == (
        f"cumulative epsilon on this dataset would reach {reach:.3f} after this run (2 earlier "
        "run(s), basic composition), above finetune.epsilon_budget=7.0"
    )
    assert budget_warning_after({"epsilon": 12.0, "runs": 3}, budget=12.0) is None
    assert budget_warning_after({"epsilon": 12.5, "runs": 3}, budget=12.0) == (
        "cumulative epsilon on this dataset is 12.500 over 3 run(s) (basic composition), "
        "above finetune.epsilon_budget=12.0"
    )
