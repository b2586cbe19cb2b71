from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tts", "0002_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="callback_due_at",
            field=models.DateTimeField(db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="callback_attempts",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
