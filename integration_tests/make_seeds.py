"""Regenerate the seeds of the integration-test host project (deterministic; run from any folder).

raw_customer_snapshots: 120 customers x 3 monthly snapshots (2026-01..03) in the host's own column
names (customer_id, snapshot_date). orders_90d drives the propensity to convert, with noise, so a
model finds the buyers without any single feature separating them perfectly.
raw_campaign_responses: one row per customer contacted by a campaign: 'spring_sale' has converted
and declined customers (positives and negatives), 'new_buyers' only converted ones (positives only).
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"
MONTHS = ["2026-01-01", "2026-02-01", "2026-03-01"]


def main() -> None:
    rng = random.Random(14)
    snapshots, propensity = [], {}
    for i in range(1, 121):
        customer = f"C{i:04d}"
        base = rng.uniform(0, 6)
        plan = rng.choice(["free", "basic", "pro"])
        for m, month in enumerate(MONTHS):
            orders = max(0, round(base + m * 0.3 + rng.gauss(0, 1.0)))
            snapshots.append(
                (customer, month, orders, plan, "true" if rng.random() < 0.5 else "false", round(rng.uniform(0, 1), 3))
            )
        propensity[customer] = 1 / (1 + math.exp(-(base - 3 + rng.gauss(0, 1.2))))
    with open(SEEDS / "raw_customer_snapshots.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "snapshot_date", "orders_90d", "plan", "is_subscribed", "noise"])
        w.writerows(snapshots)
    responses = []
    customers = sorted(propensity)
    for customer in rng.sample(customers, 70):
        outcome = "converted" if rng.random() < propensity[customer] else "declined"
        responses.append(("spring_sale", customer, outcome, "2026-02-20 10:00:00"))
    ranked = sorted(customers, key=lambda c: -propensity[c])
    for customer in ranked[:30]:
        responses.append(("new_buyers", customer, "converted", "2026-03-10 09:00:00"))
    with open(SEEDS / "raw_campaign_responses.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["campaign", "customer_id", "outcome", "responded_at"])
        w.writerows(responses)


if __name__ == "__main__":
    main()
