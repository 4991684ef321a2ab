import json

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from dbopt import selectors, services
from perfmon.errors import ActionError


class Command(BaseCommand):
    help = ("Missing-index advice for a database: as SQL (one statement per line), as JSON with the "
            "evidence, or as a Django migration (AddIndexConcurrently) for the project's own models.")

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="monitored database, settings alias or URL")
        parser.add_argument("--format", choices=("sql", "json", "migration"), default="sql")

    def handle(self, *args, database, format, **options):
        try:
            db = services.get_database(database)
            message = selectors.support_message(db)
            if message:
                raise CommandError(message)
            advice = services.recommend(database=db)
        except ActionError as exc:
            raise CommandError(exc.message) from None
        if format == "json":
            self.stdout.write(json.dumps({
                "database": db.name, "hypopg": advice.hypopg, "notes": advice.notes,
                "heavy_queries": advice.heavy_queries, "regression_checked": advice.regression_checked,
                "proposals": [{**p.evidence(), "sql": self._sql(p)} for p in advice.proposals],
                "rejected": advice.rejected}, indent=2, default=str))
        elif format == "sql":
            for note in advice.notes:
                self.stdout.write(f"-- {note}")
            for p in advice.proposals:
                self.stdout.write(self._sql(p) + ";")
        else:
            self.stdout.write(self._migration(advice))

    def _sql(self, p) -> str:
        import psycopg

        # Rendering needs no server: psycopg quotes identifiers and literals itself.
        return p.spec.create_sql(name=p.spec.default_name(), concurrently=True).as_string(psycopg.adapt.Transformer())

    def _migration(self, advice) -> str:
        tables = {m._meta.db_table: m for m in apps.get_models()}
        ops, imports, app_label, skipped = [], set(), None, []
        for p in advice.proposals:
            model = tables.get(p.spec.table) if p.spec.schema == "public" else None
            if model is None or (app_label and model._meta.app_label != app_label):
                skipped.append(self._sql(p))
                continue
            app_label = model._meta.app_label
            ops.append(self._operation(model, p.spec, imports))
        if not ops:
            raise CommandError("no advice is on this project's own models; use --format sql" +
                               ("".join(f"\n  {s}" for s in skipped)))
        latest = self._latest_migration(app_label)
        head = ["from django.contrib.postgres.operations import AddIndexConcurrently",
                "from django.db import migrations, models", *sorted(imports), "", "",
                "class Migration(migrations.Migration):",
                "    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.",
                "    atomic = False", "",
                f"    dependencies = [({app_label!r}, {latest!r})]" if latest else "    dependencies = []", "",
                "    operations = ["]
        tail = ["    ]"] + [f"# not a model of this project (apply as SQL): {s}" for s in skipped]
        return "\n".join(head + ops + tail)

    def _operation(self, model, spec, imports) -> str:
        fields, exprs = [], []
        for key in spec.keys:
            field = next((f for f in model._meta.concrete_fields if f.column == key.column), None)
            name = field.name if field else key.column
            if key.function:
                imports.add(f"from django.db.models.functions import {key.function.capitalize()}")
                exprs.append(f"{key.function.capitalize()}({name!r})")
            else:
                fields.append(name)
        cond = " & ".join(
            f"models.Q({c.column}={c.value!r})" if c.op == "=" else f"models.Q({c.column}__isnull={c.op == 'IS NULL'})"
            for c in spec.where)
        parts = [f"fields={fields!r}"] if not exprs else [", ".join(exprs + [f"models.F({f!r})" for f in fields])]
        if cond:
            parts.append(f"condition={cond}")
        parts.append(f"name={spec.table[:16] + '_' + spec.default_name()[-10:]!r}")  # Django: 30 chars
        return (f"        AddIndexConcurrently(model_name={model._meta.model_name!r}, "
                f"index=models.Index({', '.join(parts)})),")

    def _latest_migration(self, app_label: str) -> str | None:
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(None, ignore_no_migrations=True)
        leaves = loader.graph.leaf_nodes(app_label)
        return leaves[0][1] if leaves else None
