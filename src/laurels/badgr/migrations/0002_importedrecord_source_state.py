from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("badgr", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="importedrecord",
            name="source_state",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
