"""The anomaly band: is a value outside what its own recent history makes usual?

As Elementary's volume and column anomaly tests do: the training set is the metric's values in the
14 days before the point (TRAINING_DAYS), the band is their mean ± 3 standard deviations (SIGMAS), and a
point is only judged once the training set has MIN_TRAINING_POINTS values. A point outside is flagged;
it never joins a later point's training set, so one bad day cannot widen the band that should catch the
next one (Elementary excludes detected anomalies from training in the same way).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

TRAINING_DAYS = 14
SIGMAS = 3.0
MIN_TRAINING_POINTS = 7


@dataclass(frozen=True)
class Judged:
    at: datetime
    value: float
    mean: float | None
    low: float | None
    high: float | None
    training_points: int

    @property
    def judged(self) -> bool:
        return self.mean is not None

    @property
    def anomalous(self) -> bool:
        return self.judged and not (self.low <= self.value <= self.high)


def judge(
    points: list[tuple[datetime, float]],
    training_days: int = TRAINING_DAYS,
    sigmas: float = SIGMAS,
    min_points: int = MIN_TRAINING_POINTS,
) -> list[Judged]:
    """Each (time, value) judged against the non-anomalous points of the `training_days` before it."""
    window = timedelta(days=training_days)
    kept: list[tuple[datetime, float]] = []
    judged: list[Judged] = []
    for at, value in sorted(points):
        training = [v for t, v in kept if at - window <= t < at]
        if len(training) < min_points:
            judged.append(Judged(at, value, None, None, None, len(training)))
            kept.append((at, value))
            continue
        mean = statistics.fmean(training)
        spread = sigmas * statistics.stdev(training)
        point = Judged(at, value, mean, mean - spread, mean + spread, len(training))
        judged.append(point)
        if not point.anomalous:
            kept.append((at, value))
    return judged
