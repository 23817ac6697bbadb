"""The `stammtisch` console command: every Django management command under a shorter name.

`stammtisch run`, `stammtisch worker`, `stammtisch demo`, `stammtisch bench ...`,
`stammtisch createuser`, `stammtisch backup`, and Django's own (`stammtisch migrate`, ...).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stammtisch.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["stammtisch", *sys.argv[1:]])
    except ImproperlyConfigured as exc:
        print(f"stammtisch: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
