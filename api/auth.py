"""Sign-in for API clients: a token from username and password; the owner lists and revokes their tokens."""
from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.filtering import refuse_unknown_params
from api.inputs import InputSerializer
from api.throttling import ScopedFixedWindowRateThrottle
from dispatch.services.api_tokens import api_token_create, api_token_list, api_token_revoke

BAD_CREDENTIALS = "Unable to log in with provided credentials."


class TokenOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="token_key", help_text="Names the token in /api/v1/auth/tokens/{id}.")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(help_text="Moves on each time the token is used.")


class AuthTokenCreateApi(APIView):
    """Username and password for a token; send it as ``Authorization: Token <token>``.

    Wrong credentials: 400. Too many failures for the username or from the address: 429 until the
    cool-off has passed (django-axes). The token expires after it goes unused for the configured days.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedFixedWindowRateThrottle]
    throttle_scope = "login"

    class AuthTokenCreateInputSerializer(InputSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    class AuthTokenCreatedSerializer(TokenOutputSerializer):
        token = serializers.CharField(help_text="Shown once; only its hash is stored.")

    @extend_schema(request=AuthTokenCreateInputSerializer, responses=AuthTokenCreatedSerializer, auth=[])
    def post(self, request) -> Response:
        # Refusals are answered, not raised: raising would have the exception handler roll back the request's
        # transaction, and with it the failed attempt django-axes has just recorded.
        serializer = self.AuthTokenCreateInputSerializer(data=request.data)
        if not serializer.is_valid():
            return Response(serializer.errors, status=400)
        # The Django request, not DRF's: django-axes flags a locked-out client on it for its middleware (429).
        user = authenticate(request=request._request, **serializer.validated_data)
        if user is None:
            return Response({"non_field_errors": [BAD_CREDENTIALS]}, status=400)
        instance, token = api_token_create(user=user)
        return Response({**TokenOutputSerializer(instance).data, "token": token})


class AuthTokenListApi(APIView):
    """Your API tokens that have not expired (never their secrets)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=TokenOutputSerializer(many=True))
    def get(self, request) -> Response:
        refuse_unknown_params(request, known=set())
        return Response(TokenOutputSerializer(api_token_list(user=request.user), many=True).data)


class AuthTokenRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, token_id: str) -> Response:
        if not api_token_revoke(user=request.user, token_id=token_id):
            raise Http404
        return Response(status=204)
