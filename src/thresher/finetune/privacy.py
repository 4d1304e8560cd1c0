"""The privacy plan of one ``thresher finetune`` run, fixed before the first noisy step.

``PrivacyPlan.for_run(config, units=N)`` resolves everything the guarantee depends on: the
privacy unit (a record, or every record of one person with ``unit_field``), the Poisson
sampling rate ``q = min(1, batch_size / N)`` over the ``N`` training units, the number of steps
``round(epochs / q)``, delta (given, or ``min(1/(2N), 1e-5)``), the clipping norm, the
accountant (PRV or RDP, add/remove adjacency) and the noise multiplier sigma: given, taken from
the checkpoint of a resumed run, or the smallest sigma whose epsilon after all steps is within
the target (Opacus's search, tolerance 0.01, never above the target). The plan is frozen; the
epsilon charged after any number of steps is ``plan.epsilon_after(steps)``.

No torch training here: the accountant is Opacus's (``thresher.finetune.train.epsilon_for`` and
``noise_for``), so the plan can be computed and tested without a model. The budget messages at
the end are plain functions of the plan and the ledger's cumulative totals.

Example::

    plan = PrivacyPlan.for_run(FinetuneConfig(epsilon=8.0, batch_size=32), units=1000)
    plan.sampling_rate, plan.steps  # (0.032, 94)
    plan.epsilon_after(plan.steps) <= 8.0  # True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thresher.config import FinetuneConfig
from thresher.errors import ConfigError
from thresher.finetune import train as train_mod

DEFAULT_DELTA_CAP = 1e-5
DELTA_GIVEN = "given"
DELTA_DEFAULT_RULE = "min(1/(2N), 1e-5)"


def default_delta(units: int) -> float:
    """min(1/(2N), 1e-5) for N training units: well below 1/N, the level at which a mechanism
    may publish one unit's data outright."""
    return min(1.0 / (2 * units), DEFAULT_DELTA_CAP)


@dataclass(frozen=True)
class PrivacyPlan:
    """The DP-SGD mechanism of one run and its accounting: what the ledger and report state.

    ``batch_size`` is the expected number of units per step (``q * N`` while ``q < 1``).
    ``epsilon_target`` is ``None`` when sigma was given instead of a target."""

    unit: str
    unit_field: str | None
    units: int
    batch_size: int
    sampling_rate: float
    steps: int
    delta: float
    delta_rule: str
    noise_multiplier: float
    max_grad_norm: float
    accountant: str
    secure_mode: bool
    epsilon_target: float | None

    @classmethod
    def for_run(
        cls, config: FinetuneConfig, *, units: int, noise_multiplier: float | None = None
    ) -> PrivacyPlan:
        """The plan for ``units`` training units. ``noise_multiplier``: the sigma of the run
        being resumed (it wins over the settings, so a resumed run keeps its mechanism).
        Raises ``ConfigError`` when the target epsilon cannot be reached."""
        rate = min(1.0, config.batch_size / units)
        steps = max(1, round(config.epochs / rate))
        given = config.delta is not None
        delta = config.delta if config.delta is not None else default_delta(units)
        if noise_multiplier is not None:
            sigma = float(noise_multiplier)
        elif config.noise_multiplier is not None:
            sigma = config.noise_multiplier
        else:
            sigma = _noise_for_target(config, delta, rate, steps)
        return cls(
            unit="user" if config.unit_field else "record",
            unit_field=config.unit_field,
            units=units,
            batch_size=config.batch_size,
            sampling_rate=rate,
            steps=steps,
            delta=delta,
            delta_rule=DELTA_GIVEN if given else DELTA_DEFAULT_RULE,
            noise_multiplier=sigma,
            max_grad_norm=config.max_grad_norm,
            accountant=config.accountant,
            secure_mode=config.secure_mode,
            epsilon_target=config.epsilon,
        )

    @property
    def expected_batch_size(self) -> float:
        """What Opacus divides the noisy sum by: the expected units per step under Poisson
        sampling (all units when every unit joins every step), never the drawn count."""
        return float(self.batch_size) if self.sampling_rate < 1 else float(self.units)

    def epsilon_after(self, steps: int) -> float:
        """Epsilon at ``delta`` after ``steps`` steps of this mechanism (0 for none)."""
        return train_mod.epsilon_for(
            self.noise_multiplier, self.sampling_rate, steps, self.delta, self.accountant
        )

    @property
    def epsilon_planned(self) -> float:
        return self.epsilon_after(self.steps)

    def describe(self) -> dict[str, Any]:
        """The mechanism as the report's ``privacy`` section states it."""
        return {
            "unit": self.unit,
            "unit_field": self.unit_field,
            "units": self.units,
            "delta": self.delta,
            "delta_rule": self.delta_rule,
            "noise_multiplier": self.noise_multiplier,
            "max_grad_norm": self.max_grad_norm,
            "sampling_rate": self.sampling_rate,
            "accountant": self.accountant,
            "secure_mode": self.secure_mode,
        }

    def ledger_fields(self) -> dict[str, Any]:
        """The mechanism and its plan as a ledger entry records them."""
        return {
            **self.describe(),
            "epsilon_target": self.epsilon_target,
            "epsilon_planned": self.epsilon_planned,
            "expected_batch_size": self.batch_size,
            "steps_planned": self.steps,
        }


def _noise_for_target(config: FinetuneConfig, delta: float, rate: float, steps: int) -> float:
    try:
        return train_mod.noise_for(config.epsilon, delta, rate, steps, config.accountant)
    except ValueError as exc:
        raise ConfigError(
            f"--epsilon {config.epsilon} cannot be reached with {steps} steps at "
            f"sampling rate {rate:.4g}; raise --epsilon or lower --epochs"
        ) from exc


def budget_warning_before(
    plan: PrivacyPlan, cumulative: dict[str, Any], budget: float
) -> str | None:
    """The warning for a new run that would take the dataset's cumulative epsilon (basic
    composition over the ledger's earlier runs, ``cumulative``) past ``budget``; else None."""
    reach = cumulative["epsilon"] + plan.epsilon_planned
    if not reach > budget:  # written so that a NaN total does not warn
        return None
    return (
        f"cumulative epsilon on this dataset would reach {reach:.3f} after this run "
        f"({cumulative['runs']} earlier run(s), basic composition), above "
        f"finetune.epsilon_budget={budget}"
    )


def budget_warning_after(cumulative: dict[str, Any], budget: float) -> str | None:
    """The warning for a dataset whose cumulative epsilon, this run included, is past
    ``budget``; else None."""
    if not cumulative["epsilon"] > budget:
        return None
    return (
        f"cumulative epsilon on this dataset is {cumulative['epsilon']:.3f} over "
        f"{cumulative['runs']} run(s) (basic composition), above "
        f"finetune.epsilon_budget={budget}"
    )
