from django.apps import AppConfig


class InvestmentsConfig(AppConfig):
    name = "investments"
    verbose_name = "Investments"

    def ready(self) -> None:
        from investments import providers  # noqa: F401  (registers group.investments_summary)
