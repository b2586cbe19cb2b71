"""Operators' voice ownership: list who owns what, publish a voice to every key, give a voice
to a key (e.g. the voices made before keys were turned on, which belong to nobody)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tts.access.models import ApiKey, AuditEntry
from tts.models import Voice

OWNER_HELP = ("The owning key's prefix (- for none), where several keys have a voice of that "
              "id (ids are unique per key).")


class Command(BaseCommand):
    help = ("Voice ownership: list, share ID, unshare ID, assign ID --key PREFIX (or --nobody); "
            "--owner PREFIX (- for none) picks one of several voices of one id.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every voice: id, owner key (- for none), shared.")
        for action, text in (("share", "Every key may use it; only admins change it."),
                             ("unshare", "Back to its owner only.")):
            command = sub.add_parser(action, help=text)
            command.add_argument("voice_id", nargs="+")
            command.add_argument("--owner", help=OWNER_HELP)
        assign = sub.add_parser("assign", help="Give voices to a key (or to nobody).")
        assign.add_argument("voice_id", nargs="*", help="Voice ids.")
        assign.add_argument("--owner", help=OWNER_HELP)
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
            for voice_id in voices.values_list("slug", flat=True))

    def _list(self, **_):
        self.stdout.write(f"{'id':<40} {'owner':<9} shared")
        for voice in Voice.objects.order_by("slug", "owner"):
            self.stdout.write(f"{voice.slug:<40} {voice.owner or '-':<9} "
                              f"{'yes' if voice.shared else 'no'}")

    def _voices(self, ids: list[str], all_unowned: bool = False, owner: str | None = None):
        if all_unowned:
            return Voice.objects.filter(owner="")
        if not ids:
            raise CommandError("name voices, or --all-unowned")
        found = Voice.objects.filter(slug__in=ids)
        if owner is not None:
            found = found.filter(owner="" if owner == "-" else owner)
        slugs = list(found.values_list("slug", flat=True))
        missing = sorted(set(ids) - set(slugs))
        if missing:
            raise CommandError(f"no voice {', '.join(missing)}; see `manage.py voices list`")
        several = sorted({slug for slug in slugs if slugs.count(slug) > 1})
        if several:
            raise CommandError(f"several keys have {', '.join(several)}: name one with "
                               "--owner PREFIX (- for none)")
        return found

    def _share(self, *, voice_id: list[str], owner: str | None = None, **_):
        voices = self._voices(voice_id, owner=owner)
        self._audit("voice_share", voices, "share")
        count = voices.update(shared=True)
        self.stdout.write(f"shared {count} voice(s)")

    def _unshare(self, *, voice_id: list[str], owner: str | None = None, **_):
        voices = self._voices(voice_id, owner=owner)
        self._audit("voice_unshare", voices, "unshare")
        count = voices.update(shared=False)
        self.stdout.write(f"unshared {count} voice(s)")

    def _assign(self, *, voice_id: list[str], key: str | None, nobody: bool,
                all_unowned: bool = False, owner: str | None = None, **_):
        new_owner = ""
        if not nobody:
            found = ApiKey.objects.filter(prefix=(key or "").partition(".")[0]).first()
            if found is None:
                raise CommandError(f"no key with prefix {key!r}; see `manage.py apikeys list`")
            new_owner = found.prefix
        voices = self._voices(voice_id, all_unowned, owner=owner)
        taken = sorted(set(voices.values_list("slug", flat=True)) & set(
            Voice.objects.filter(owner=new_owner).exclude(pk__in=voices.values("pk"))
            .values_list("slug", flat=True)))
        if taken:
            raise CommandError(f"{new_owner or 'nobody'} has a voice {', '.join(taken)} "
                               "already (ids are unique per key); rename one first")
        self._audit("voice_assign", voices, f"assign to {new_owner or 'nobody'}")
        count = voices.update(owner=new_owner)
        self.stdout.write(f"assigned {count} voice(s) to {new_owner or 'nobody'}")
