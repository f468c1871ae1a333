from django.apps import AppConfig


class MpesaIntegrationConfig(AppConfig):
    name = "mpesa_integration"
    verbose_name = "M-Pesa (Daraja)"

    def ready(self) -> None:
        # kernel providers ("loan.payout_pending"), the Celery tasks of the bulk module (autodiscovery finds only
        # tasks.py), and the admin of every M-Pesa model
        from mpesa_integration import admin, providers, tasks_bulk  # noqa: F401
