from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tts", "0006_voice_tenant_ids"),
    ]

    operations = [
        migrations.AddField(
            model_name="voice",
            name="reference_report",
            field=models.JSONField(blank=True, default=None, null=True),
        ),
    ]
