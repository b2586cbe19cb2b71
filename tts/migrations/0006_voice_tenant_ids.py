"""Voice ids unique per tenant: a surrogate primary key (``serial``) and the API's id kept as
``slug``, unique per ``owner``; jobs keep the voices they named, resolved (``voice_keys``).

Existing voices keep everything: their id (now the slug), owner (``""``: unowned, as made
before keys; or the key that made them), shared flag, reference key and file names. Their
files stay where they are (``voices/<id>/``) and remain readable; new voices are stored under
``voices/<owner>/<id>/``. The table is rebuilt (a new one, rows copied, the old one dropped)
because a primary key cannot be swapped in place on every database.
"""

from django.db import migrations, models

FIELDS = ("owner", "shared", "name", "description", "ref_text", "transcribed", "duration",
          "ref_clip", "consent", "clip", "prepared", "clip_content_type", "reference_key",
          "stored_bytes")


def copy_voices(apps, schema_editor):
    old, new = apps.get_model("tts", "Voice"), apps.get_model("tts", "TenantVoice")
    for voice in old.objects.order_by("created_at", "id"):
        copied = new.objects.create(slug=voice.id,
                                    **{field: getattr(voice, field) for field in FIELDS})
        # auto_now(_add) stamped the copy with now: keep the voice's own times.
        new.objects.filter(pk=copied.pk).update(created_at=voice.created_at,
                                                updated_at=voice.updated_at)


def copy_back(apps, schema_editor):
    new, old = apps.get_model("tts", "TenantVoice"), apps.get_model("tts", "Voice")
    for voice in new.objects.order_by("created_at", "serial"):
        if old.objects.filter(id=voice.slug).exists():
            raise RuntimeError(f"two owners have the voice id {voice.slug!r}: rename one "
                               "before migrating back")
        old.objects.create(id=voice.slug, **{field: getattr(voice, field) for field in FIELDS})
        old.objects.filter(pk=voice.slug).update(created_at=voice.created_at,
                                                 updated_at=voice.updated_at)


class Migration(migrations.Migration):

    dependencies = [
        ('tts', '0005_voice_stored_bytes'),
    ]

    operations = [
        migrations.CreateModel(
            name='TenantVoice',
            fields=[
                ('serial', models.BigAutoField(primary_key=True, serialize=False)),
                ('slug', models.SlugField(max_length=64)),
                ('name', models.CharField(max_length=100)),
                ('description', models.TextField(blank=True, default='')),
                ('ref_text', models.TextField()),
                ('transcribed', models.BooleanField(default=False)),
                ('duration', models.FloatField()),
                ('ref_clip', models.JSONField()),
                ('consent', models.TextField()),
                ('clip', models.FileField(max_length=255, upload_to='')),
                ('prepared', models.FileField(max_length=255, upload_to='')),
                ('clip_content_type', models.CharField(default='application/octet-stream',
                                                       max_length=100)),
                ('reference_key', models.CharField(max_length=32)),
                ('owner', models.CharField(blank=True, db_index=True, default='',
                                           max_length=16)),
                ('shared', models.BooleanField(default=False)),
                ('stored_bytes', models.PositiveBigIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['created_at', 'serial'],
                'constraints': [models.UniqueConstraint(fields=('owner', 'slug'),
                                                        name='voice_id_per_owner')],
            },
        ),
        migrations.RunPython(copy_voices, copy_back),
        migrations.DeleteModel(name='Voice'),
        migrations.RenameModel(old_name='TenantVoice', new_name='Voice'),
        migrations.AddField(
            model_name='job',
            name='voice_keys',
            field=models.JSONField(blank=True, null=True),
        ),
    ]
