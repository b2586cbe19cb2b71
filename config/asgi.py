"""The ASGI application that `make serve` (config/serve.py) runs.

A server process imports this once; importing it starts loading the models named in
TTS_PRELOAD in the background, so health answers while they warm up.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

from tts.api.asgi import RequestGuard  # noqa: E402  (needs Django set up)
from tts.services.runtime import start_preload  # noqa: E402

application = RequestGuard(django_application)
start_preload()
