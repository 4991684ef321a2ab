import hashlib

from django.db import migrations, models


def fill_digests(apps, schema_editor):
    QuerySample = apps.get_model("dbopt", "QuerySample")
    seen = set()
    for sample in QuerySample.objects.all().iterator():
        digest = hashlib.blake2b(sample.sql.encode(), digest_size=16).hexdigest()
        if (sample.database_id, digest) in seen:
            sample.delete()
            continue
        seen.add((sample.database_id, digest))
        QuerySample.objects.filter(pk=sample.pk).update(sql_hash=digest)


class Migration(migrations.Migration):
    dependencies = [("dbopt", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="querysample", name="dbopt_sample_unique"),
        migrations.AddField(model_name="querysample", name="sql_hash", field=models.CharField(default="", max_length=32),
                            preserve_default=False),
        migrations.RunPython(fill_digests, migrations.RunPython.noop),
        migrations.AddConstraint(model_name="querysample", constraint=models.UniqueConstraint(
            fields=("database", "sql_hash"), name="dbopt_sample_unique")),
    ]
