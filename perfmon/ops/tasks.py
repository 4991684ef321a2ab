"""Thin Celery wrappers around the ops services."""
from celery import shared_task

from .errors import NotificationDeliveryError


@shared_task(name="perfmon.ops.tasks.evaluate_alerts_task")
def evaluate_alerts_task() -> dict:
    from .alerting import evaluate_alert_rules
    from .notify import dispatch_notifications

    result = evaluate_alert_rules()
    queued = [] if result.skipped else dispatch_notifications()
    return {"rules": result.rules, "fired": len(result.fired), "resolved": len(result.resolved),
            "notifications": len(queued), "skipped": result.skipped}


@shared_task(name="perfmon.ops.tasks.send_notification_task", bind=True, max_retries=6,
             autoretry_for=(NotificationDeliveryError,), retry_backoff=2, retry_backoff_max=600, retry_jitter=True)
def send_notification_task(self, notification_id: int) -> str:
    from .delivery import send_notification

    return send_notification(notification_id=notification_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(name="perfmon.ops.tasks.refresh_recommendations_task", ignore_result=True)
def refresh_recommendations_task() -> dict:
    from .recommendations import refresh_recommendations

    result = refresh_recommendations()
    return {"created": result.created, "updated": result.updated, "gone": result.gone}


@shared_task(name="perfmon.ops.tasks.run_optimization_task", acks_late=True)
def run_optimization_task(run_id: int) -> str:
    from .optimize import run_optimization

    return run_optimization(run_id=run_id).status
