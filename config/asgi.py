"""The ASGI application that `make serve` (config/serve.py) runs.

A server process imports this once. In inline mode importing it starts loading the models
named in TTS_PRELOAD in the background, so health answers while they warm up, and starts the
job runner (which resumes the jobs a previous process left unfinished). In celery mode the
workers do both and this process never imports torch.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

from tts.api.asgi import RequestGuard  # noqa: E402  (needs Django set up)
from tts.services.job_runner import inline_runner  # noqa: E402
from tts.services.runtime import runs_models_here, start_preload  # noqa: E402

application = RequestGuard(django_application)
if runs_models_here():
    start_preload()
    inline_runner()
