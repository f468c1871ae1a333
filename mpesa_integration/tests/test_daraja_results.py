"""The lenient result parsers (pure functions): every shape Daraja and the SDKs are known to send."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal

import pytest

from mpesa_integration.daraja import (
    DarajaValidationError,
    parse_account_balance,
    parse_async_result,
    parse_c2b,
    parse_stk_callback,
)
from mpesa_integration.daraja.client import NAIROBI

STK_SUCCESS = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Amount", "Value": 1.00},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                ]
            },
        }
    }
}

B2C_SUCCESS = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "10571-7910404-1",
        "ConversationID": "AG_20191219_00004e48cf7e3533f581",
        "TransactionID": "NLJ41HAY6Q",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": 10},
                {"Key": "TransactionReceipt", "Value": "NLJ41HAY6Q"},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": -4510.00},
                {"Key": "ReceiverPartyPublicName", "Value": "254708374149 - John Doe"},
                {"Key": "TransactionCompletedDateTime", "Value": "19.12.2019 11:45:50"},
                {"Key": "B2CUtilityAccountAvailableFunds", "Value": 10116.00},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 900000.00},
            ]
        },
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://example.com/timeout"}},
    }
}

C2B_CONFIRMATION = {
    "TransactionType": "Pay Bill",
    "TransID": "RKTQDM7W6S",
    "TransTime": "20191122063845",
    "TransAmount": "10.00",
    "BusinessShortCode": "600638",
    "BillRefNumber": "CH1-M007",
    "InvoiceNumber": "",
    "OrgAccountBalance": "49197.00",
    "ThirdPartyTransID": "",
    "MSISDN": "25470****149",
    "FirstName": "John",
    "MiddleName": "",
    "LastName": "Doe",
}


def stk(**changes) -> dict:
    body = copy.deepcopy(STK_SUCCESS)
    inner = body["Body"]["stkCallback"]
    for key, value in changes.items():
        if value is None:
            inner.pop(key, None)
        else:
            inner[key] = value
    return body


# ------------------------------------------------------------------------------------------ STK callback


def test_stk_success_callback():
    callback = parse_stk_callback(STK_SUCCESS)
    assert callback.succeeded
    assert (callback.merchant_request_id, callback.checkout_request_id) == (
        "29115-34620561-1",
        "ws_CO_191220191020363925",
    )
    assert callback.result_code == "0"
    assert callback.amount == Decimal("1.0") and isinstance(callback.amount, Decimal)
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.transaction_date == datetime(2019, 12, 19, 10, 21, 15, tzinfo=NAIROBI)
    assert callback.phone == "254708374149"
    assert callback.metadata["Balance"] is None  # Balance comes without a Value
    assert "Balance" in callback.metadata


def test_stk_extra_and_missing_items_are_tolerated():
    body = stk(
        CallbackMetadata={
            "Item": [
                {"Name": "Amount", "Value": "250.50"},
                {"Name": "MpesaReceiptNumber", "Value": "SLA1B2C3D4"},
                {"Name": "NewThing", "Value": {"nested": True}},
                {"Value": "an item without a name"},
                {"Name": "TransactionDate", "Value": "20240301120000"},
            ]
        }
    )
    callback = parse_stk_callback(body)
    assert callback.amount == Decimal("250.50")
    assert callback.phone is None
    assert callback.metadata["NewThing"] == {"nested": True}
    assert callback.transaction_date == datetime(2024, 3, 1, 12, 0, tzinfo=NAIROBI)


@pytest.mark.parametrize(("code", "expected"), [(1032, "1032"), ("0", "0"), (0.0, "0"), (" 17 ", "17")])
def test_stk_result_code_becomes_a_string(code, expected):
    assert parse_stk_callback(stk(ResultCode=code, CallbackMetadata=None)).result_code == expected


def test_stk_failure_without_metadata():
    callback = parse_stk_callback(stk(ResultCode=1032, ResultDesc="Request cancelled by user", CallbackMetadata=None))
    assert not callback.succeeded
    assert (callback.amount, callback.receipt, callback.transaction_date, callback.phone) == (None, None, None, None)
    assert callback.metadata == {}


def test_stk_inner_object_and_single_item_are_accepted():
    inner = stk(CallbackMetadata={"Item": {"Name": "Amount", "Value": 5}})["Body"]["stkCallback"]
    assert parse_stk_callback(inner).amount == Decimal("5")
    assert parse_stk_callback({"stkCallback": inner}).amount == Decimal("5")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "Body"),
        ({"Body": {}}, "stkCallback"),
        ({"Body": "text"}, "Body"),
        (stk(ResultCode=None), "ResultCode"),
        (stk(ResultCode=True), "ResultCode"),
        (stk(ResultCode=1.5), "ResultCode"),
        (stk(CheckoutRequestID=None), "CheckoutRequestID"),
        (stk(MerchantRequestID=["x"]), "MerchantRequestID"),
        (stk(CallbackMetadata=[]), "CallbackMetadata"),
        (stk(CallbackMetadata={"Item": "Amount"}), "CallbackMetadata"),
        (stk(CallbackMetadata={"Item": ["Amount"]}), "CallbackMetadata"),
        (stk(CallbackMetadata={"Item": [{"Name": "Amount", "Value": "ten"}]}), "Amount"),
        (stk(CallbackMetadata={"Item": [{"Name": "TransactionDate", "Value": "yesterday"}]}), "TransactionDate"),
        (stk(CallbackMetadata={"Item": [{"Name": "PhoneNumber", "Value": [254]}]}), "PhoneNumber"),
    ],
)
def test_stk_malformed_bodies_raise_with_the_field(body, field):
    with pytest.raises(DarajaValidationError) as info:
        parse_stk_callback(body)
    assert info.value.field == field


# ------------------------------------------------------------------------------------------ async Result


def test_b2c_result_official_shape():
    result = parse_async_result(B2C_SUCCESS)
    assert result.succeeded
    assert (result.result_type, result.result_code) == ("0", "0")
    assert result.transaction_id == result.receipt == "NLJ41HAY6Q"
    assert result.amount == Decimal("10")
    assert result.completed_at == datetime(2019, 12, 19, 11, 45, 50, tzinfo=NAIROBI)
    assert result.parameters["B2CChargesPaidAccountAvailableFunds"] == -4510.00
    assert result.reference_data == {"QueueTimeoutURL": "https://example.com/timeout"}


def _with_parameters(node_key: str, node) -> dict:
    body = copy.deepcopy(B2C_SUCCESS)
    del body["Result"]["ResultParameters"]
    body["Result"][node_key] = node
    return body


PAIRS = [{"Key": "Amount", "Value": "300"}, {"Key": "ReceiptNo", "Value": "MBN31H462N"}, {"Key": "TransactionReason"}]


@pytest.mark.parametrize(
    "body",
    [
        _with_parameters("ResultParameters", {"ResultParameter": PAIRS}),  # official docs
        _with_parameters("ResultParameter", {"ResultParameters": PAIRS}),  # mpesakit
        _with_parameters("ResultParameters", PAIRS),  # a flat list
        _with_parameters("ResultParameter", PAIRS),
    ],
    ids=["official", "mpesakit", "flat-list", "flat-list-singular"],
)
def test_every_parameter_wrapper_is_accepted(body):
    result = parse_async_result(body)
    assert result.parameters == {"Amount": "300", "ReceiptNo": "MBN31H462N", "TransactionReason": None}
    assert (result.amount, result.receipt) == (Decimal("300"), "MBN31H462N")


def test_a_single_parameter_dict_and_a_reference_list():
    body = _with_parameters(
        "ResultParameters", {"ResultParameter": {"Key": "AccountBalance", "Value": "x|KES|1|0|0|0"}}
    )
    body["Result"]["ReferenceData"] = {"ReferenceItem": [{"Key": "Occasion"}, {"Key": "QueueTimeoutURL", "Value": "u"}]}
    result = parse_async_result(body)
    assert result.parameters == {"AccountBalance": "x|KES|1|0|0|0"}
    assert result.reference_data == {"Occasion": None, "QueueTimeoutURL": "u"}
    assert result.amount is None and result.receipt is None and result.completed_at is None


def test_failure_result_with_a_string_code_and_compact_times():
    failure = parse_async_result(
        {
            "Result": {
                "ResultType": 0,
                "ResultCode": "R000002",
                "ResultDesc": "The OriginalTransactionID is invalid",
                "OriginatorConversationID": "1-2-3",
                "ConversationID": "AG_1",
                "TransactionID": "",
            }
        }
    )
    assert (failure.result_code, failure.succeeded, failure.parameters) == ("R000002", False, {})
    status = parse_async_result(
        _with_parameters("ResultParameters", [{"Key": "FinalisedTime", "Value": 20180223054112}])
    )
    assert status.completed_at == datetime(2018, 2, 23, 5, 41, 12, tzinfo=NAIROBI)


def test_the_inner_result_object_is_accepted():
    assert parse_async_result(B2C_SUCCESS["Result"]).receipt == "NLJ41HAY6Q"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.pop("ResultCode"), "ResultCode"),
        (lambda r: r.pop("OriginatorConversationID"), "OriginatorConversationID"),
        (lambda r: r.update(ResultParameters="Amount=10"), "ResultParameters"),
        (lambda r: r.update(ResultParameters={"ResultParameter": ["Amount"]}), "ResultParameters"),
        (lambda r: r.update(ResultParameters={"ResultParameter": [{"Key": 5, "Value": 1}]}), "ResultParameters"),
        (lambda r: r.update(ResultParameters={"Unexpected": []}), "ResultParameters"),
        (lambda r: r.update(ReferenceData=[1]), "ReferenceData"),
        (lambda r: r["ResultParameters"]["ResultParameter"][0].update(Value="ten"), "TransactionAmount"),
        (
            lambda r: r["ResultParameters"]["ResultParameter"][5].update(Value="32.13.2019 25:00:00"),
            "TransactionCompletedDateTime",
        ),
    ],
)
def test_async_malformed_bodies_raise_with_the_field(mutate, field):
    body = copy.deepcopy(B2C_SUCCESS)
    mutate(body["Result"])
    with pytest.raises(DarajaValidationError) as info:
        parse_async_result(body)
    assert info.value.field == field


def test_async_body_must_be_an_object():
    with pytest.raises(DarajaValidationError):
        parse_async_result("Result")
    with pytest.raises(DarajaValidationError):
        parse_async_result({"Result": []})


# ------------------------------------------------------------------------------------------ account balance


def test_account_balance_string():
    value = (
        "Working Account|KES|700000.00|700000.00|0.00|0.00&Float Account|KES|0.00|0.00|0.00|0.00"
        "&Utility Account|KES|228037.00|1.50|2.25|0.00&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00&"
    )
    accounts = parse_account_balance(value)
    assert list(accounts) == ["Working Account", "Float Account", "Utility Account", "Charges Paid Account"]
    assert accounts["Utility Account"] == {
        "currency": "KES",
        "available": Decimal("228037.00"),
        "uncleared": Decimal("1.50"),
        "reserved": Decimal("2.25"),
    }
    assert accounts["Charges Paid Account"]["available"] == Decimal("-1540.00")
    assert parse_account_balance("") == {}


@pytest.mark.parametrize(
    "value",
    ["Working Account|KES|1.00", "Working Account|KES|abc|0|0|0", "|KES|1|0|0|0", None, 5],
)
def test_malformed_account_balance(value):
    with pytest.raises(DarajaValidationError) as info:
        parse_account_balance(value)
    assert info.value.field == "AccountBalance"


# ------------------------------------------------------------------------------------------ C2B


def test_c2b_confirmation():
    payment = parse_c2b(C2B_CONFIRMATION)
    assert (payment.trans_id, payment.trans_type, payment.shortcode) == ("RKTQDM7W6S", "Pay Bill", "600638")
    assert payment.trans_time == datetime(2019, 11, 22, 6, 38, 45, tzinfo=NAIROBI)
    assert payment.amount == Decimal("10.00")
    assert payment.org_account_balance == Decimal("49197.00")
    assert payment.msisdn == "25470****149"
    assert payment.bill_ref_number == "CH1-M007"
    assert (payment.first_name, payment.middle_name, payment.last_name, payment.name) == ("John", "", "Doe", "John Doe")


def test_c2b_validation_body_numbers_and_missing_optionals():
    body = {**C2B_CONFIRMATION, "OrgAccountBalance": "", "TransAmount": 10, "BusinessShortCode": 600638}
    del body["MiddleName"], body["InvoiceNumber"]
    payment = parse_c2b(body)
    assert payment.org_account_balance is None
    assert (payment.amount, payment.shortcode, payment.middle_name, payment.invoice_number) == (
        Decimal("10"),
        "600638",
        "",
        "",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"TransID": None}, "TransID"),
        ({"TransID": ""}, "TransID"),
        ({"TransAmount": None}, "TransAmount"),
        ({"TransAmount": "ten"}, "TransAmount"),
        ({"TransTime": "2019-11-22"}, "TransTime"),
        ({"TransTime": None}, "TransTime"),
        ({"BusinessShortCode": None}, "BusinessShortCode"),
        ({"BillRefNumber": {"ref": 1}}, "BillRefNumber"),
        ({"OrgAccountBalance": "n/a"}, "OrgAccountBalance"),
    ],
)
def test_c2b_malformed_bodies_raise_with_the_field(changes, field):
    body = {key: value for key, value in {**C2B_CONFIRMATION, **changes}.items() if value is not None}
    with pytest.raises(DarajaValidationError) as info:
        parse_c2b(body)
    assert info.value.field == field


def test_c2b_body_must_be_an_object():
    with pytest.raises(DarajaValidationError):
        parse_c2b([C2B_CONFIRMATION])
