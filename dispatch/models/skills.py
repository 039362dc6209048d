from django.db import models


class Skill(models.Model):
    """A modality or competence a visit may require (palliative, oncology, MLD, ...)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class CredentialType(models.Model):
    """A credential a facility may demand, such as a hospital's own credentialing."""

    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="credential_types")
    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="credential_type_code_unique")]

    def __str__(self) -> str:
        return self.name
