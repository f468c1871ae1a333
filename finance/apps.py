from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = "Finance (ledger, contributions, loans)"

    def ready(self) -> None:
        from finance import handlers, providers  # noqa: F401  (event subscriptions, kernel providers)
