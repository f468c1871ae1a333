"""Disbursement approvals and officials' signatures (maker-checker)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from finance.filters_loans import ApprovalSignatureFilterSet, DisbursementApprovalFilterSet
from finance.models import ApprovalSignature, DisbursementApproval
from finance.selectors.loans import approval_signature_list, disbursement_approval_list
from finance.serializers.approvals import (
    ApprovalSignatureCreateInputSerializer,
    ApprovalSignatureSerializer,
    DisbursementApprovalCreateInputSerializer,
    DisbursementApprovalSerializer,
)
from finance.services.approvals import approval_sign, disbursement_approval_create


class DisbursementApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Requests for the officials to approve an outgoing payment. Every active member of the group sees
    them. Loans and expenses open theirs automatically; an official may open a WITHDRAWAL here.
    """

    serializer_class = DisbursementApprovalSerializer
    filterset_class = DisbursementApprovalFilterSet
    search_fields = ["description"]
    ordering_fields = ["created_at", "amount", "status"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[DisbursementApproval]:
        if getattr(self, "swagger_fake_view", False):
            return DisbursementApproval.objects.none()
        return disbursement_approval_list(user=self.request.user)

    @extend_schema(request=DisbursementApprovalCreateInputSerializer, responses={201: DisbursementApprovalSerializer})
    def create(self, request, *args, **kwargs):
        data = DisbursementApprovalCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = disbursement_approval_create(
            group_id=data.validated_data["group"],
            requested_by=request.user,
            approval_type=data.validated_data["approval_type"],
            amount=data.validated_data["amount"],
            description=data.validated_data["description"],
        )
        out = self.get_queryset().get(pk=approval.pk)
        return Response(DisbursementApprovalSerializer(out).data, status=status.HTTP_201_CREATED)


class ApprovalSignatureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Officials' signatures. POST {approval, approved, comments}: the signer must be an active official
    of the approval's group (403 for a plain member, 404 for an outsider); nobody signs their own
    loan, expense or request (403 `self_approval`); an official signs once (409 `already_signed`);
    only a PENDING approval can be signed (409). Enough approvals approve the loan/expense; one
    rejection rejects it.
    """

    serializer_class = ApprovalSignatureSerializer
    filterset_class = ApprovalSignatureFilterSet
    search_fields = ["comments"]
    ordering_fields = ["signed_at"]
    ordering = ["-signed_at", "-id"]

    def get_queryset(self) -> QuerySet[ApprovalSignature]:
        if getattr(self, "swagger_fake_view", False):
            return ApprovalSignature.objects.none()
        return approval_signature_list(user=self.request.user)

    @extend_schema(request=ApprovalSignatureCreateInputSerializer, responses={201: ApprovalSignatureSerializer})
    def create(self, request, *args, **kwargs):
        data = ApprovalSignatureCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signature = approval_sign(
            approval_id=data.validated_data["approval"],
            approver=request.user,
            approved=data.validated_data["approved"],
            comments=data.validated_data["comments"],
        )
        return Response(ApprovalSignatureSerializer(signature).data, status=status.HTTP_201_CREATED)
