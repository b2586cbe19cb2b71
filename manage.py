#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.options import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as exc:  # a bad environment variable: say which, no traceback
        sys.exit(f"Configuration error. {exc}")
