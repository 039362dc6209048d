"""Plain CRUD for the organisation's records, each view starting from the user's scoped queryset."""
from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from api.fields import BoundedSlugRelatedField, PlanningDateField, ScopedPrimaryKeyRelatedField, bounded_list
from api.filtering import KnownParamsFilterBackend
from api.inputs import InputModelSerializer, without_unchanged_echoes
from api.permissions import ANY_ROLE, COORDINATOR, STAFF, RoleAllowed
from dispatch.models import (
    AvailabilityException,
    Contraindication,
    CredentialType,
    Facility,
    Patient,
    Precaution,
    Role,
    Skill,
    Therapist,
    TherapistBreak,
    TherapistCredential,
    WeeklyAvailability,
)
from dispatch.selectors import filters, lists, scoping
from dispatch.services import availability, records


class SelectorFilterBackend(KnownParamsFilterBackend):
    """Documents the view's FilterSet and refuses what it does not take; the list selector applies it to the
    scoped queryset."""

    def filter_known(self, request, queryset, view):
        return queryset


class InputOutputSchema(AutoSchema):
    """Writes take the view's input serializer and answer with its output serializer."""

    def get_request_serializer(self):
        if self.method in ("POST", "PUT", "PATCH"):
            return self.view.input_serializer_class()
        return super().get_request_serializer()


class RecordViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """List, retrieve, create, update, delete: input serializer -> one service -> output serializer."""

    permission_classes = [RoleAllowed]
    filter_backends = [SelectorFilterBackend]
    schema = InputOutputSchema()
    roles: dict[str, frozenset[str]]
    input_serializer_class: type[serializers.Serializer]
    output_serializer_class: type[serializers.Serializer]

    def get_serializer_class(self):
        return self.output_serializer_class

    def get_queryset(self):
        params = self.request.query_params if self.action == "list" else {}
        return self.select(user=self.request.user, params=params)

    def select(self, *, user, params):
        raise NotImplementedError

    def save(self, *, instance: Any | None, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _write(self, request, instance, *, partial: bool, status: int) -> Response:
        data, context = request.data, self.get_serializer_context()
        if instance is not None:
            probe = self.input_serializer_class(instance, context=context)
            data = without_unchanged_echoes(data, shown=self.get_serializer(instance).data, serializer=probe,
                                            partial=partial)
        serializer = self.input_serializer_class(instance, data=data, partial=partial, context=context)
        serializer.is_valid(raise_exception=True)
        instance = self.save(instance=instance, data=dict(serializer.validated_data))
        return Response(self.get_serializer(instance).data, status=status)

    def create(self, request, *args, **kwargs) -> Response:
        return self._write(request, None, partial=False, status=201)

    def update(self, request, *args, **kwargs) -> Response:
        return self._write(request, self.get_object(), partial=kwargs.pop("partial", False), status=200)

    def partial_update(self, request, *args, **kwargs) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


MAX_SKILLS = 20
MAX_CREDENTIALS = 20
MAX_LANGUAGES = 20


class OrgSlugRelatedField(BoundedSlugRelatedField):
    """A credential type by its code, in the user's organisation."""

    def get_queryset(self):
        return CredentialType.objects.filter(organization_id=self.context["request"].user.organization_id)


def skill_codes(**kwargs) -> BoundedSlugRelatedField:
    if not kwargs.get("read_only"):
        kwargs["queryset"] = Skill.objects.all()
    return BoundedSlugRelatedField(slug_field="code", many=True, max_items=MAX_SKILLS, **kwargs)


def credential_codes(**kwargs) -> OrgSlugRelatedField:
    if not kwargs.get("read_only"):
        kwargs["queryset"] = CredentialType.objects.all()
    if kwargs.get("many"):
        kwargs["max_items"] = MAX_CREDENTIALS
    return OrgSlugRelatedField(slug_field="code", **kwargs)


# Therapists


class CredentialSerializer(InputModelSerializer):
    credential_type = credential_codes()

    class Meta:
        model = TherapistCredential
        fields = ["credential_type", "expires_on"]


THERAPIST_FIELDS = [
    "display_name", "home_address", "home_lat", "home_lon", "skills", "languages", "gender",
    "max_visits_per_day", "max_working_minutes_per_day", "speed_profile", "active", "credentials",
]
USERNAME_REQUIRED = "A username is required to create a therapist."


class TherapistInputSerializer(InputModelSerializer):
    username = serializers.CharField(max_length=150, required=False, help_text="Create only: the login name.")
    email = serializers.EmailField(required=False, allow_blank=True, help_text="Create only.")
    skills = skill_codes(required=False)
    languages = serializers.ListField(
        child=serializers.CharField(max_length=8), required=False, max_length=MAX_LANGUAGES
    )
    credentials = bounded_list(CredentialSerializer(), max_length=MAX_CREDENTIALS, required=False)

    class Meta:
        model = Therapist
        fields = ["username", "email", *THERAPIST_FIELDS]
        # Without them the home address is geocoded.
        extra_kwargs = {"home_lat": {"required": False}, "home_lon": {"required": False}}

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and not attrs.get("username"):
            raise serializers.ValidationError({"username": USERNAME_REQUIRED})
        return attrs


class TherapistOutputSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    skills = skill_codes(read_only=True)
    credentials = CredentialSerializer(many=True, read_only=True)

    class Meta:
        model = Therapist
        fields = ["id", "username", *THERAPIST_FIELDS, "created_at", "updated_at"]


class TherapistViewSet(RecordViewSet):
    roles = {"list": ANY_ROLE - {Role.FACILITY_STAFF}, "retrieve": ANY_ROLE - {Role.FACILITY_STAFF}}
    roles |= dict.fromkeys(["create", "update", "partial_update", "destroy"], COORDINATOR)
    input_serializer_class = TherapistInputSerializer
    output_serializer_class = TherapistOutputSerializer
    filterset_class = filters.TherapistFilter
    queryset = Therapist.objects.none()

    def select(self, *, user, params):
        return lists.therapist_list(user=user, params=params)

    def save(self, *, instance, data):
        if instance is None:
            return records.therapist_create(organization=self.request.user.organization, **data)
        data.pop("username", None)
        data.pop("email", None)
        return records.therapist_update(therapist=instance, **data)

    def perform_destroy(self, instance: Therapist) -> None:
        records.therapist_delete(therapist=instance)


# Facilities


FACILITY_FIELDS = [
    "name", "kind", "address", "lat", "lon", "phone", "visiting_hours_start", "visiting_hours_end",
    "checkin_overhead_min", "default_buffer_min", "required_credentials",
]


class FacilityInputSerializer(InputModelSerializer):
    required_credentials = credential_codes(many=True, required=False)

    class Meta:
        model = Facility
        fields = FACILITY_FIELDS


class FacilityOutputSerializer(serializers.ModelSerializer):
    required_credentials = credential_codes(many=True, read_only=True)
    buffer_min = serializers.IntegerField(read_only=True, help_text="The buffer used when a visit sets none.")

    class Meta:
        model = Facility
        fields = ["id", *FACILITY_FIELDS, "buffer_min", "created_at", "updated_at"]


class FacilityViewSet(RecordViewSet):
    roles = {"list": ANY_ROLE, "retrieve": ANY_ROLE}
    roles |= dict.fromkeys(["create", "update", "partial_update", "destroy"], COORDINATOR)
    input_serializer_class = FacilityInputSerializer
    output_serializer_class = FacilityOutputSerializer
    queryset = Facility.objects.none()

    def select(self, *, user, params):
        return lists.facility_list(user=user)

    def save(self, *, instance, data):
        facility = instance or Facility(organization=self.request.user.organization)
        return records.facility_save(facility=facility, **data)


# Patients


class ContraindicationSerializer(InputModelSerializer):
    class Meta:
        model = Contraindication
        fields = ["kind", "note", "active_from", "active_until"]

    def validate(self, attrs: dict) -> dict:
        if attrs.get("active_until") and attrs["active_until"] < attrs["active_from"]:
            raise serializers.ValidationError({"active_until": "A contraindication cannot end before it starts."})
        return attrs


class ContraindicationSummarySerializer(serializers.ModelSerializer):
    """What a therapist is told: the kind and the dates; the note is free clinical text they are not given."""

    class Meta:
        model = Contraindication
        fields = ["kind", "active_from", "active_until"]


def contraindications_for(viewer_context: dict, contraindications: list, *, patient: Patient) -> list[dict]:
    """Coordinators and the staff of the patient's facility read the note; anyone else gets the summary.

    Staff still see the visits their facility asked for after the patient moved elsewhere, but the
    patient's health record went with them: those staff are no longer the ones caring for the patient.
    """
    request = viewer_context.get("request")
    user = request.user if request is not None else None
    if user is not None and (
        user.role == Role.COORDINATOR
        or (user.role == Role.FACILITY_STAFF and user.facility_id and patient.facility_id == user.facility_id)
    ):
        return ContraindicationSerializer(contraindications, many=True).data
    return ContraindicationSummarySerializer(contraindications, many=True).data


class PrecautionSerializer(InputModelSerializer):
    class Meta:
        model = Precaution
        fields = ["kind", "body_site", "note"]


PATIENT_FIELDS = [
    "facility", "first_name", "last_name", "date_of_birth", "phone", "address", "lat", "lon", "room", "bed",
    "access_notes", "preferred_therapist_gender", "language", "preferred_therapists", "excluded_therapists",
    "diagnosis", "referring_clinician", "referral_date", "referral_expires", "payer", "units_authorized",
    "units_used", "active", "contraindications", "precautions",
]


class PatientInputSerializer(InputModelSerializer):
    facility = ScopedPrimaryKeyRelatedField(
        scope=scoping.facilities_visible_to, model=Facility, required=False, allow_null=True,
        help_text="Blank for a patient seen at home. Facility staff: always their own facility.",
    )
    preferred_therapists = ScopedPrimaryKeyRelatedField(
        scope=scoping.therapists_visible_to, model=Therapist, many=True, required=False
    )
    excluded_therapists = ScopedPrimaryKeyRelatedField(
        scope=scoping.therapists_visible_to, model=Therapist, many=True, required=False
    )
    contraindications = bounded_list(ContraindicationSerializer(), required=False, help_text="Replaces the list.")
    precautions = bounded_list(PrecautionSerializer(), required=False, help_text="Replaces the list.")

    class Meta:
        model = Patient
        fields = PATIENT_FIELDS


class PatientOutputSerializer(serializers.ModelSerializer):
    contraindications = ContraindicationSerializer(many=True, read_only=True)
    precautions = PrecautionSerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        fields = ["id", *PATIENT_FIELDS, "created_at", "updated_at"]


class PatientForTherapistSerializer(serializers.ModelSerializer):
    """What a therapist needs to treat: no diagnosis, referral, payer or date of birth."""

    last_initial = serializers.SerializerMethodField()
    facility_name = serializers.CharField(source="facility.name", read_only=True, default=None)
    phone = serializers.SerializerMethodField(help_text="Home patients only; at a facility, call the ward.")
    precautions = PrecautionSerializer(many=True, read_only=True)
    contraindications = serializers.SerializerMethodField(help_text="Those active today: kind and dates.")

    class Meta:
        model = Patient
        fields = [
            "id", "first_name", "last_initial", "facility", "facility_name", "address", "lat", "lon", "room", "bed",
            "phone", "access_notes", "language", "preferred_therapist_gender", "precautions", "contraindications",
        ]

    def get_last_initial(self, patient: Patient) -> str:
        return patient.last_name[:1].upper()

    def get_phone(self, patient: Patient) -> str:
        return patient.phone if patient.facility_id is None else ""

    @extend_schema_field(ContraindicationSummarySerializer(many=True))
    def get_contraindications(self, patient: Patient) -> list[dict]:
        today = timezone.localdate(timezone=patient.organization.tz)
        active = [c for c in patient.contraindications.all() if c.active_on(today)]
        return ContraindicationSummarySerializer(active, many=True).data


FACILITY_STAFF_ONLY_THEIR_FACILITY = "Facility staff can only register patients at their own facility."
UNITS_BY_COORDINATORS = (
    "The payer's authorised and used units are recorded by the agency's coordinators (and used units by each "
    "completed visit); facility staff can read them, not change them."
)
# What a payer authorised and what was used: the limit every booking is checked against, so a ward clerk who could
# raise it, or set used back to 0, could book sessions nobody pays for.
COORDINATOR_ONLY_PATIENT_FIELDS = ("units_authorized", "units_used")


class PatientViewSet(RecordViewSet):
    roles = {"list": ANY_ROLE, "retrieve": ANY_ROLE}
    roles |= dict.fromkeys(["create", "update", "partial_update"], STAFF)
    roles["destroy"] = COORDINATOR
    input_serializer_class = PatientInputSerializer
    output_serializer_class = PatientOutputSerializer
    filterset_class = filters.PatientFilter
    queryset = Patient.objects.none()

    def get_serializer_class(self):
        if self.request is not None and self.request.user.is_authenticated and self.request.user.role == Role.THERAPIST:
            return PatientForTherapistSerializer
        return PatientOutputSerializer

    def select(self, *, user, params):
        return lists.patient_list(user=user, params=params)

    def save(self, *, instance, data):
        user = self.request.user
        patient = instance or Patient(organization=user.organization)
        if user.role == Role.FACILITY_STAFF:
            data["facility"] = user.facility
            changed = [f for f in COORDINATOR_ONLY_PATIENT_FIELDS if f in data and data[f] != getattr(patient, f)]
            if changed:
                raise serializers.ValidationError(dict.fromkeys(changed, [UNITS_BY_COORDINATORS]))
        return records.patient_save(patient=patient, by=user, **data)


# Availability


class TherapistScopedSerializer(InputModelSerializer):
    therapist = ScopedPrimaryKeyRelatedField(scope=scoping.therapists_visible_to, model=Therapist)


class WeeklyAvailabilitySerializer(TherapistScopedSerializer):
    class Meta:
        model = WeeklyAvailability
        fields = ["id", "therapist", "weekday", "start_time", "end_time"]


class AvailabilityExceptionSerializer(TherapistScopedSerializer):
    date = PlanningDateField()

    class Meta:
        model = AvailabilityException
        fields = ["id", "therapist", "date", "kind", "start_time", "end_time", "note"]


class TherapistBreakSerializer(TherapistScopedSerializer):
    class Meta:
        model = TherapistBreak
        fields = ["id", "therapist", "earliest_start", "latest_start", "duration_min"]


class AvailabilityViewSet(RecordViewSet):
    """Therapists read their own; coordinators manage everyone's."""

    roles = {"list": ANY_ROLE - {Role.FACILITY_STAFF}, "retrieve": ANY_ROLE - {Role.FACILITY_STAFF}}
    roles |= dict.fromkeys(["create", "update", "partial_update", "destroy"], COORDINATOR)
    selector = staticmethod(lists.weekly_availability_list)

    def select(self, *, user, params):
        return self.selector(user=user, params=params)

    def save(self, *, instance, data):
        return records.record_save(instance=instance or self.input_serializer_class.Meta.model(), fields=data)


class WorkingHoursViewSet(AvailabilityViewSet):
    """The hours a therapist works: a change that takes some away unbooks the visits booked in them."""

    def save(self, *, instance, data):
        instance = instance or self.input_serializer_class.Meta.model()
        return availability.availability_save(instance=instance, fields=data, by=self.request.user)

    def perform_destroy(self, instance) -> None:
        availability.availability_delete(instance=instance, by=self.request.user)


class WeeklyAvailabilityViewSet(WorkingHoursViewSet):
    input_serializer_class = output_serializer_class = WeeklyAvailabilitySerializer
    filterset_class = filters.WeeklyAvailabilityFilter
    queryset = WeeklyAvailability.objects.none()
    selector = staticmethod(lists.weekly_availability_list)


class AvailabilityExceptionViewSet(WorkingHoursViewSet):
    input_serializer_class = output_serializer_class = AvailabilityExceptionSerializer
    filterset_class = filters.AvailabilityExceptionFilter
    queryset = AvailabilityException.objects.none()
    selector = staticmethod(lists.availability_exception_list)


class TherapistBreakViewSet(AvailabilityViewSet):
    input_serializer_class = output_serializer_class = TherapistBreakSerializer
    filterset_class = filters.TherapistBreakFilter
    queryset = TherapistBreak.objects.none()
    selector = staticmethod(lists.break_list)
