"""The ASGI application that `make serve` (config/serve.py) runs.

A server process imports this once and starts its executor's background duties: in inline
mode, loading the models named in TTS_PRELOAD (health answers while they warm up), the job
runner (which resumes the jobs a previous process left unfinished) and the callback
deliverer. In celery mode the workers do all of that and this process never imports torch.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does

from tts.execution import executor  # noqa: E402  (needs Django set up)
from tts.observability.memory import freeze_when_started  # noqa: E402
from tts.web.asgi import KnownLengthHandler, RequestGuard  # noqa: E402

application = RequestGuard(KnownLengthHandler())
# Once started, the garbage collector looks only at what requests leave
# (tts/observability/memory).
freeze_when_started(executor().start())
