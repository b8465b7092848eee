"""The ingestion DAGs' notifier: their data owner hears of late and refused deliveries."""

from __future__ import annotations

from airflow.sdk import BaseNotifier


class DeliveryWatch(BaseNotifier):
    """An ingestion DAG's notifier: tells the source's data owner of late and refused deliveries.

    On a task's failure and on load_batch's success; a failure to notify is logged and never changes
    the task's outcome (Airflow's callbacks), and the next call catches up on what is missing.
    """

    template_fields = ()

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def notify(self, context) -> None:
        from community_dw.notifications import watch_delivery

        watch_delivery(self.source, context)
