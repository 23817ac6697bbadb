"""The steps `stammtisch bench publish` runs in its own processes, in the benchmark's database:

    python -m stammtisch.publishing.benchmarks setup DELIVERIES
    python -m stammtisch.publishing.benchmarks due WORKSPACE_ID START_ISO [RATE]
    python -m stammtisch.publishing.benchmarks count WORKSPACE_ID
    python -m stammtisch.publishing.benchmarks baseline DATABASE_URL WORKER_ID START_EPOCH

Each prints one JSON object. DATABASE_URL (environment) chooses the database of the Django steps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def main(argv: list[str]) -> None:
    step, args = argv[0], argv[1:]
    if step == "baseline":  # no Django: the driver alone
        from stammtisch.publishing.benchmarks import baseline

        done, finished = baseline.work(args[0], args[1], float(args[2]))
        print(json.dumps({"done": done, "finished": finished}))
        return

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stammtisch.settings")
    django.setup()
    from stammtisch.core.models import Workspace
    from stammtisch.publishing.benchmarks import scenario

    if step == "setup":
        workspace = scenario.create(int(args[0]))
        print(json.dumps({"workspace": workspace.pk}))
    elif step == "due":
        rate = float(args[2]) if len(args) > 2 else None
        scenario.make_due(Workspace.objects.get(pk=int(args[0])), dt.datetime.fromisoformat(args[1]), rate)
        print(json.dumps({"ok": True}))
    elif step == "count":
        print(json.dumps(scenario.count(Workspace.objects.get(pk=int(args[0])))))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
