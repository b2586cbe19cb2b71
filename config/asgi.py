"""The ASGI application that `make serve` (config/serve.py) runs.

A server process imports this once. In inline mode importing it starts loading the models
named in TTS_PRELOAD in the background, so health answers while they warm up, and starts the
job runner (which resumes the jobs a previous process left unfinished). In celery mode the
workers do both and this process never imports torch.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from tts.api.asgi import KnownLengthHandler, RequestGuard  # noqa: E402  (needs Django set up)
from tts.services.health import readiness  # noqa: E402
from tts.services.job_runner import inline_runner  # noqa: E402
from tts.services.memory import freeze_when_started  # noqa: E402
from tts.services.metrics_workers import start_engine_state_refresh  # noqa: E402
from tts.services.runtime import runs_models_here, start_preload  # noqa: E402

application = RequestGuard(KnownLengthHandler())
if runs_models_here():
    preloading = start_preload()
    inline_runner()
    # Once started, the garbage collector looks only at what requests leave
    # (tts/services/memory).
    freeze_when_started(lambda: not preloading.is_alive() or readiness().ready)
    start_engine_state_refresh()  # several worker processes: their queues and models in /metrics
else:
    freeze_when_started(lambda: True)  # a celery-mode web process loads nothing
