"""Issuers' private keys are kept encrypted (laurels.core.secrets): the column is renamed
and every key stored in clear by an earlier version is encrypted with the newest of
LAURELS_ENCRYPTION_KEYS, read through the same helper as the running server. Undoing the
migration decrypts them again."""

from django.db import migrations, models

from laurels.core import secrets

PEM_START = "-----BEGIN"


def encrypt_stored_keys(apps, schema_editor):
    IssuerKey = apps.get_model("openbadges", "IssuerKey")
    database = schema_editor.connection.alias
    secrets.overwrite_deleted_content(schema_editor.connection)
    for key in IssuerKey.objects.using(database).filter(private_key_encrypted__startswith=PEM_START):
        key.private_key_encrypted = secrets.encrypt(key.private_key_encrypted)
        key.save(update_fields=["private_key_encrypted"])


def decrypt_stored_keys(apps, schema_editor):
    IssuerKey = apps.get_model("openbadges", "IssuerKey")
    database = schema_editor.connection.alias
    for key in IssuerKey.objects.using(database).exclude(private_key_encrypted__startswith=PEM_START):
        key.private_key_encrypted = secrets.decrypt(key.private_key_encrypted)
        key.save(update_fields=["private_key_encrypted"])


class Migration(migrations.Migration):

    dependencies = [
        ('openbadges', '0001_initial'),
    ]

    operations = [
        migrations.RenameField(
            model_name='issuerkey',
            old_name='private_key_pem',
            new_name='private_key_encrypted',
        ),
        migrations.AlterField(
            model_name='issuerkey',
            name='private_key_encrypted',
            field=models.TextField(help_text='The PKCS#8 PEM private key as a Fernet token (laurels.core.secrets).'),
        ),
        migrations.RunPython(encrypt_stored_keys, decrypt_stored_keys),
    ]
