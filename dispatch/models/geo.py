from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def latitude_field(**kwargs) -> models.FloatField:
    return models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)], **kwargs)


def longitude_field(**kwargs) -> models.FloatField:
    return models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)], **kwargs)


def coordinate_constraints(prefix: str, lat: str = "lat", lon: str = "lon") -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(name=f"{prefix}_lat_range", condition=Q(**{f"{lat}__gte": -90, f"{lat}__lte": 90})),
        models.CheckConstraint(name=f"{prefix}_lon_range", condition=Q(**{f"{lon}__gte": -180, f"{lon}__lte": 180})),
    ]


class GeocodeCache(models.Model):
    """Geocoder answers kept so each address costs one rate-limited lookup."""

    query = models.CharField(max_length=500, unique=True)
    lat = latitude_field(null=True)
    lon = longitude_field(null=True)
    provider = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
