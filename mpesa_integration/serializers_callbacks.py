"""
Strict shapes of what Daraja POSTs to us (daraja.md §1.4, §1.7, §1.8). A body that does not fit gets 400 and is
logged; the lenient parsers in daraja.client then read the values (codes as strings, amounts as Decimal).
"""

from __future__ import annotations

from rest_framework import serializers


class CodeField(serializers.Field):
    """A Daraja result code: a number in some bodies, a string in others. Kept as a string."""

    default_error_messages = {"invalid": "A result code must be a number or a string."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str) or str(data).strip() == "":
            self.fail("invalid")
        return str(data).strip()

    def to_representation(self, value):
        return value


class MetadataItemSerializer(serializers.Serializer):
    Name = serializers.CharField(max_length=64)
    Value = serializers.JSONField(required=False, allow_null=True)


class MetadataSerializer(serializers.Serializer):
    Item = MetadataItemSerializer(many=True)


class StkCallbackInnerSerializer(serializers.Serializer):
    MerchantRequestID = serializers.CharField(max_length=64)
    CheckoutRequestID = serializers.CharField(max_length=64)
    ResultCode = CodeField()
    ResultDesc = serializers.CharField(max_length=1000, allow_blank=True)
    CallbackMetadata = MetadataSerializer(required=False)

    def validate(self, attrs):
        if attrs["ResultCode"] == "0" and "CallbackMetadata" not in attrs:
            raise serializers.ValidationError({"CallbackMetadata": "A successful callback carries CallbackMetadata."})
        return attrs


class StkBodySerializer(serializers.Serializer):
    stkCallback = StkCallbackInnerSerializer()  # Daraja's key


class StkCallbackSerializer(serializers.Serializer):
    Body = StkBodySerializer()


class AsyncResultInnerSerializer(serializers.Serializer):
    ResultType = CodeField(required=False)
    ResultCode = CodeField()
    ResultDesc = serializers.CharField(max_length=1000, allow_blank=True)
    OriginatorConversationID = serializers.CharField(max_length=64)
    ConversationID = serializers.CharField(max_length=64, required=False, allow_blank=True)
    TransactionID = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ResultParameters = serializers.JSONField(required=False)
    ReferenceData = serializers.JSONField(required=False)


class AsyncResultSerializer(serializers.Serializer):
    """B2C Result / QueueTimeOut, Transaction Status, Account Balance and Reversal results share this shape."""

    Result = AsyncResultInnerSerializer()


class C2BSerializer(serializers.Serializer):
    TransactionType = serializers.CharField(max_length=40, required=False, allow_blank=True)
    TransID = serializers.RegexField(r"^[A-Za-z0-9]{6,20}$", max_length=20)
    TransTime = serializers.RegexField(r"^\d{14}$")
    TransAmount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    BusinessShortCode = serializers.RegexField(r"^\d{5,7}$")
    BillRefNumber = serializers.CharField(max_length=20, required=False, allow_blank=True)
    InvoiceNumber = serializers.CharField(max_length=40, required=False, allow_blank=True)
    OrgAccountBalance = serializers.CharField(max_length=40, required=False, allow_blank=True)
    ThirdPartyTransID = serializers.CharField(max_length=40, required=False, allow_blank=True)
    MSISDN = serializers.CharField(max_length=40)
    FirstName = serializers.CharField(max_length=60, required=False, allow_blank=True)
    MiddleName = serializers.CharField(max_length=60, required=False, allow_blank=True)
    LastName = serializers.CharField(max_length=60, required=False, allow_blank=True)
