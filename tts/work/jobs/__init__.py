"""Jobs where they run: claiming and running one (run), taking over those whose worker went
quiet (sweep), delivering their callbacks (callbacks), deleting expired ones (retention). The
use cases clients call (submit, read, cancel) are tts.services.jobs."""
