"""Share-out: distributing a cycle's interest and fines income to members."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from finance.choices import ShareOutStatus

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class ShareOut(TimeStampedModel):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    cycle_start = models.DateField()
    cycle_end = models.DateField()
    total_distributed = models.DecimalField(**_money)
    status = models.CharField(max_length=10, choices=ShareOutStatus.choices, default=ShareOutStatus.POSTED)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-cycle_end", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "cycle_start", "cycle_end"], name="shareout_once_per_cycle")
        ]

    def __str__(self) -> str:
        return f"Share-out {self.group_id} {self.cycle_start}..{self.cycle_end}"


class ShareOutAllocation(models.Model):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    share_out = models.ForeignKey(ShareOut, on_delete=models.CASCADE, related_name="allocations")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    savings_days = models.DecimalField(max_digits=24, decimal_places=2, help_text="Σ savings balance × days held.")
    share_percent = models.DecimalField(max_digits=9, decimal_places=6)
    amount = models.DecimalField(**_money)

    class Meta:
        ordering = ["share_out_id", "member_id"]
        constraints = [models.UniqueConstraint(fields=["share_out", "member"], name="shareout_once_per_member")]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.amount}"
