"""On the embedded default (SQLite) dbopt says clearly that it needs PostgreSQL, and the
rest of the product works: a real child process with no DATABASE_URL."""
from __future__ import annotations

import json
import subprocess
import sys

from django.test import Client

from dbopt.models import MonitoredDatabase
from tests.support import ROOT, child_env


def _run(env, *args, check=True):
    proc = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_sqlite_says_it_needs_postgresql_and_nothing_breaks(tmp_path):
    env = child_env(DATABASE_URL=None, REDIS_URL=None, CELERY_BROKER_URL=None, VAR_DIR=str(tmp_path), DEBUG="true")
    _run(env, "migrate", "--noinput", "-v", "0")
    _run(env, "check")

    report = _run(env, "dbopt_report")
    assert "needs PostgreSQL" in report.stdout and "sqlite3" in report.stdout
    recommend = _run(env, "dbopt_recommend", "--format", "json", check=False)
    assert recommend.returncode == 1 and "needs PostgreSQL" in recommend.stderr
    maintain = _run(env, "dbopt_maintain")
    assert "not PostgreSQL" in maintain.stdout or "needs PostgreSQL" in maintain.stdout

    shell = _run(env, "shell", "-v", "0", "-c", "import json; from dbopt import selectors, tasks; "
                 "print(json.dumps(selectors.overview(), default=str)); print(tasks.collect_databases_task())")
    overview = json.loads(shell.stdout.splitlines()[0])
    entry = overview["databases"][0]
    assert entry["supported"] is False and entry["status"] == "unsupported"
    assert "needs PostgreSQL" in entry["message"]
    assert "unsupported" in shell.stdout.splitlines()[1]
    # The rest of the product still answers on SQLite.
    _run(env, "shell", "-v", "0", "-c", "from perfmon.ops.recommendations import refresh_recommendations; "
         "r = refresh_recommendations(); assert not r.errors, r.errors")


def test_admin_never_shows_credentials_and_applies_actions(orders, admin_user):
    client = Client()
    client.force_login(admin_user)
    db = MonitoredDatabase.objects.create(name="reporting", url="postgresql://rep:TopSecret9@127.0.0.1:1/rep")
    listing = client.get("/admin/dbopt/monitoreddatabase/")
    assert listing.status_code == 200
    page = client.get(f"/admin/dbopt/monitoreddatabase/{db.pk}/change/").content.decode()
    assert "TopSecret9" not in listing.content.decode() and "TopSecret9" not in page
    assert "postgresql://rep:***@127.0.0.1:1/rep" in page
    # Saving the form without retyping the URL keeps it.
    response = client.post(f"/admin/dbopt/monitoreddatabase/{db.pk}/change/",
                           {"name": "reporting", "alias": "", "url": "", "enabled": "on"})
    assert response.status_code == 302
    db.refresh_from_db()
    assert db.url.endswith("TopSecret9@127.0.0.1:1/rep")
    response = client.post("/admin/dbopt/monitoreddatabase/", {"action": "collect_now", "_selected_action": [db.pk]},
                           follow=True)
    assert "unreachable" in response.content.decode() and "TopSecret9" not in response.content.decode()
    db.refresh_from_db()
    assert db.status == "down"


def test_adding_a_database_in_the_admin_is_audited_and_collected(orders, admin_user):
    from perfmon.models import AuditRecord
    from tests.support import database_url

    client = Client()
    client.force_login(admin_user)
    response = client.post("/admin/dbopt/monitoreddatabase/add/",
                           {"name": "second", "alias": "", "url": database_url(), "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    db = MonitoredDatabase.objects.get(name="second")
    assert db.status == "up" and db.snapshots.filter(kind="tables").exists()
    audit = AuditRecord.objects.get(action="dbopt.add_database")
    assert audit.result == "ok" and audit.actor == admin_user
    bad = client.post("/admin/dbopt/monitoreddatabase/add/",
                      {"name": "third", "alias": "", "url": "mysql://u:p@h/db", "enabled": "on"})
    assert bad.status_code == 200 and "not a PostgreSQL URL" in bad.content.decode()
    assert not MonitoredDatabase.objects.filter(name="third").exists()
