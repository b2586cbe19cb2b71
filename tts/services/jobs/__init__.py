"""Jobs as clients use them: submit, read, cancel, fetch the audio. Running them is the
executor's (tts.execution), which runs tts.work.jobs where the models are."""

from tts.work.jobs.document import job_document

from .cancel import job_cancel
from .records import active_jobs, job_audio, job_captions, job_get, job_list
from .submit import job_submit

__all__ = ["active_jobs", "job_audio", "job_cancel", "job_captions", "job_document", "job_get",
           "job_list", "job_submit"]
