"""Operators' voice ownership: list who owns what, publish a voice to every key, give a voice
to a key (e.g. the voices made before keys were turned on, which belong to nobody)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tts.access.models import ApiKey, AuditEntry
from tts.models import Voice


class Command(BaseCommand):
    help = "Voice ownership: list, share ID, unshare ID, assign ID --key PREFIX (or --nobody)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every voice: id, owner key (- for none), shared.")
        for action, text in (("share", "Every key may use it; only admins change it."),
                             ("unshare", "Back to its owner only.")):
            sub.add_parser(action, help=text).add_argument("voice_id", nargs="+")
        assign = sub.add_parser("assign", help="Give voices to a key (or to nobody).")
        assign.add_argument("voice_id", nargs="*", help="Voice ids.")
        assign.add_argument("--all-unowned", action="store_true",
                            help="Every voice that belongs to nobody (made before keys).")
        who = assign.add_mutually_exclusive_group(required=True)
        who.add_argument("--key", help="The key's prefix (the part before the dot).")
        who.add_argument("--nobody", action="store_true",
                         help="Unowned: every caller may use it, callers without a key and "
                              "admin keys may change it.")

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _audit(self, action: str, voices, detail: str) -> None:
        """Operators' changes are audited like the API's (who: the command line)."""
        AuditEntry.objects.bulk_create(
            AuditEntry(action=action, voice=voice_id[:100], request_id=f"manage.py voices "
                       f"{detail}"[:64], status=200, outcome="ok")
            for voice_id in voices.values_list("id", flat=True))

    def _list(self, **_):
        self.stdout.write(f"{'id':<40} {'owner':<9} shared")
        for voice in Voice.objects.order_by("id"):
            self.stdout.write(f"{voice.id:<40} {voice.owner or '-':<9} "
                              f"{'yes' if voice.shared else 'no'}")

    def _voices(self, ids: list[str], all_unowned: bool = False):
        if all_unowned:
            return Voice.objects.filter(owner="")
        if not ids:
            raise CommandError("name voices, or --all-unowned")
        found = Voice.objects.filter(id__in=ids)
        missing = sorted(set(ids) - set(found.values_list("id", flat=True)))
        if missing:
            raise CommandError(f"no voice {', '.join(missing)}; see `manage.py voices list`")
        return found

    def _share(self, *, voice_id: list[str], **_):
        voices = self._voices(voice_id)
        self._audit("voice_share", voices, "share")
        count = voices.update(shared=True)
        self.stdout.write(f"shared {count} voice(s)")

    def _unshare(self, *, voice_id: list[str], **_):
        voices = self._voices(voice_id)
        self._audit("voice_unshare", voices, "unshare")
        count = voices.update(shared=False)
        self.stdout.write(f"unshared {count} voice(s)")

    def _assign(self, *, voice_id: list[str], key: str | None, nobody: bool,
                all_unowned: bool = False, **_):
        owner = ""
        if not nobody:
            found = ApiKey.objects.filter(prefix=(key or "").partition(".")[0]).first()
            if found is None:
                raise CommandError(f"no key with prefix {key!r}; see `manage.py apikeys list`")
            owner = found.prefix
        voices = self._voices(voice_id, all_unowned)
        self._audit("voice_assign", voices, f"assign to {owner or 'nobody'}")
        count = voices.update(owner=owner)
        self.stdout.write(f"assigned {count} voice(s) to {owner or 'nobody'}")
