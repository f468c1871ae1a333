"""manage.py mpesa_register_c2b_urls — register the paybill's validation and confirmation URLs with Daraja."""

from django.core.management.base import BaseCommand, CommandError

from chamahub.exceptions import DomainError
from mpesa_integration.services.c2b import c2b_urls_register


class Command(BaseCommand):
    help = "Register ChamaHub's C2B validation/confirmation URLs for MPESA_C2B_SHORTCODE (once per shortcode)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--response-type", choices=["Completed", "Cancelled"], default="Completed")

    def handle(self, *args, **options) -> None:
        try:
            result = c2b_urls_register(response_type=options["response_type"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for key, value in result.items():
            self.stdout.write(f"{key}: {value}")
