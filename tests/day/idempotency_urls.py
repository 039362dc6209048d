"""A stand-in create view for the @idempotent tests, until the facility request view uses it."""
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.idempotency import idempotent
from dispatch.models import Patient
from tests import factories as f


class VisitRequestStandInApi(APIView):
    class InputSerializer(serializers.Serializer):
        patient = serializers.IntegerField()
        duration_min = serializers.IntegerField()

    @idempotent
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = Patient.objects.get(pk=serializer.validated_data["patient"])
        visit = f.VisitFactory(
            organization=patient.organization, patient=patient, duration_min=serializer.validated_data["duration_min"]
        )
        return Response({"id": visit.pk, "date": visit.date, "status": visit.status}, status=201)


urlpatterns = [path("visit-requests", VisitRequestStandInApi.as_view())]
