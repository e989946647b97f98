# Badge Connect apps register with the software they are (RFC 7591 software_id and
# software_version), which their registration's answer gives back.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connect", "0007_client_credentials_as_owner"),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="software_id",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="application",
            name="software_version",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]
