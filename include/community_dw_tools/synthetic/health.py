"""Public health service contacts: check-ups, chronic-disease follow-ups, home visits, vaccinations.

About 0.3% of residents a day have a contact, weighted towards the old and the special groups, the
people community health centres follow up. Each street has one community health service centre (a
public institution with a unified social credit code); a few contacts go through the district
hospital. Some contacts are recorded a few days late. No diagnoses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from community_dw_tools.synthetic import identity
from community_dw_tools.synthetic.geography import Geography
from community_dw_tools.synthetic.population import DISABLED, ELDERLY_ALONE, Register

SOURCE = "health_services"
DAILY_SHARE = 0.003
MIN_CONTACTS = 80  # a day's file big enough to carry every defect kind under max_bad_row_share
OUTCOMES = ("completed", "refused", "not_found")


@dataclass(frozen=True)
class Providers:
    street_centres: tuple[str, ...]  # one per street
    hospital: str


def providers(rng: np.random.Generator, geo: Geography) -> Providers:
    centres = tuple(identity.unified_social_credit_code(rng) for _ in range(geo.n_streets))
    return Providers(street_centres=centres, hospital=identity.unified_social_credit_code(rng))


def _service(rng: np.random.Generator, age: int, groups: int) -> str:
    if age < 7:
        return "vaccination"
    if age >= 65:
        home = 0.45 if groups & (ELDERLY_ALONE | DISABLED) else 0.15
        rest = (1 - home) / 3
        options = ("home_visit", "elderly_checkup", "hypertension_followup", "diabetes_followup")
        return str(rng.choice(options, p=[home, rest * 1.2, rest * 1.1, rest * 0.7]))
    if age >= 35:
        options = ("hypertension_followup", "diabetes_followup", "vaccination", "home_visit")
        return str(rng.choice(options, p=[0.5, 0.3, 0.15, 0.05]))
    return "home_visit" if groups & DISABLED else "vaccination"


def day_records(
    rng: np.random.Generator, register: Register, geo: Geography, clinics: Providers, day: dt.date
) -> list[dict[str, Any]]:
    """One day's contacts in recorded_at order."""
    present = register.present()
    ages = register.ages(day)[present]
    groups = register.groups[present]
    weight = np.select([ages >= 65, groups > 0, ages < 7, ages >= 35], [6.0, 3.0, 2.0, 1.0], default=0.3)
    n = min(len(present), max(MIN_CONTACTS, round(len(present) * DAILY_SHARE)))
    # weighted sample without replacement (Efraimidis-Spirakis keys), O(residents)
    keys = np.log(rng.random(len(present))) / weight
    chosen = np.sort(np.argpartition(-keys, n - 1)[:n]) if n < len(present) else np.arange(len(present))
    records = []
    for k in chosen.tolist():
        i = int(present[k])
        service = _service(rng, int(ages[k]), int(groups[k]))
        late = int(rng.choice(4, p=[0.85, 0.08, 0.05, 0.02]))
        street = int(geo.grid_street[register.grid[i]])
        p_not_found = 0.12 if service == "home_visit" else 0.04
        outcome = OUTCOMES[int(rng.choice(3, p=[0.94 - p_not_found, 0.06, p_not_found]))]
        recorded = dt.datetime.combine(day, dt.time()) + dt.timedelta(
            seconds=int(rng.integers(8 * 3600, 21 * 3600))
        )
        records.append(
            {
                "resident_id": str(register.resident_id[i]),
                "service_type": service,
                "service_date": (day - dt.timedelta(days=late)).isoformat(),
                "provider_org_code": clinics.hospital
                if rng.random() < 0.1
                else clinics.street_centres[street],
                "community_code": str(geo.community_codes[geo.grid_community[register.grid[i]]]),
                "outcome": outcome,
                "recorded_at": recorded.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
    records.sort(key=lambda r: r["recorded_at"])
    stamp = day.strftime("%Y%m%d")
    return [{"service_id": f"HS{stamp}{n:06d}", **r} for n, r in enumerate(records, start=1)]
