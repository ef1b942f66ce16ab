"""Summarise `rasa test nlu` on the team's held-out test set and enforce minimum quality.

Usage: python scripts/nlu_report.py var/results/nlu
Prints intent accuracy, out-of-scope recall and a per-intent table; exits 1 below the floors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MIN_ACCURACY = 0.85
MIN_OUT_OF_SCOPE_RECALL = 0.80


def main(results_dir: str) -> int:
    report = json.loads((Path(results_dir) / "intent_report.json").read_text())
    accuracy = float(report["accuracy"])
    oos = report.get("out_of_scope", {})
    oos_recall = float(oos.get("recall", 0.0))
    intents = {
        k: v
        for k, v in report.items()
        if isinstance(v, dict) and "support" in v and not k.endswith("avg")
    }
    print("\nNLU on the team's held-out test set (tests/nlu_test_set.yml)")
    print(f"{'intent':<20}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>5}  confused with")
    for name, row in sorted(intents.items()):
        confused = ", ".join(f"{k} ({v})" for k, v in (row.get("confused_with") or {}).items())
        print(
            f"{name:<20}{row['precision']:>10.2f}{row['recall']:>8.2f}"
            f"{row['f1-score']:>7.2f}{row['support']:>5}  {confused}"
        )
    print(f"\nintent accuracy:     {accuracy:.3f}  (floor {MIN_ACCURACY})")
    print(f"out-of-scope recall: {oos_recall:.3f}  (floor {MIN_OUT_OF_SCOPE_RECALL})")
    ok = accuracy >= MIN_ACCURACY and oos_recall >= MIN_OUT_OF_SCOPE_RECALL
    print("NLU quality: " + ("OK" if ok else "BELOW THE FLOOR"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/results/nlu"))
