from django.apps import AppConfig


class TtsConfig(AppConfig):
    name = "tts"
    verbose_name = "Text to speech"
