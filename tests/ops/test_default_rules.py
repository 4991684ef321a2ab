"""The original design's targets ship as alert rules, and each one evaluates."""
import pytest
from django.db import connection

from perfmon.ops.alerting import evaluate_alert_rules
from perfmon.ops.models import AlertRule

pytestmark = pytest.mark.django_db


def test_default_rules_exist_and_evaluate_without_error():
    # The autouse fixture cleared them for the other tests: re-run the data migration's creator.
    from importlib import import_module

    migration = import_module("perfmon.ops.migrations.0002_default_alert_rules")
    from django.apps import apps

    migration.create(apps, connection.schema_editor())
    names = set(AlertRule.objects.values_list("name", flat=True))
    assert {"API response time over target", "High CPU", "High memory", "Low cache hit rate",
            "Connection pool nearly full", "Slow queries", "High CDN miss rate", "Scaling event"} <= names
    for rule in AlertRule.objects.all():
        rule.full_clean()  # every metric, aggregation and threshold setting is known
    result = evaluate_alert_rules()
    assert result.errors == {} and result.rules == len(names)
