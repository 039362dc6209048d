"""A secret the server must read back (a webhook's signing key), kept encrypted in the database.

django-fernet-encrypted-fields encrypts with keys derived from SECRET_KEY (and SECRET_KEY_FALLBACKS, for a
rotation) and SALT_KEY. When no key opens a value it hands back the stored text as if it were the secret; for a
signing key that would sign every delivery with the ciphertext and say nothing. This field refuses instead.
"""
from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.exceptions import ImproperlyConfigured
from encrypted_fields.fields import EncryptedCharField

# Every Fernet token starts with its version byte 0x80, which is "gAAAAA" in URL-safe base64. Secrets Rounds makes
# are hex, so a value starting so is a token (a row written before encryption reads as it is until it is saved).
FERNET_PREFIX = "gAAAAA"
NO_KEY_OPENS_IT = (
    "A stored secret was encrypted under another key: restore that DJANGO_SECRET_KEY, or list it in "
    "DJANGO_SECRET_KEY_FALLBACKS (and the salt in ROUNDS_SECRETS_SALT), then rotate the webhook's secret."
)


class SecretField(EncryptedCharField):
    def to_python(self, value):
        if isinstance(value, str) and value.startswith(FERNET_PREFIX) and not hasattr(self, "_already_decrypted"):
            try:
                return self.f.decrypt(value.encode()).decode()
            except InvalidToken as exc:
                raise ImproperlyConfigured(NO_KEY_OPENS_IT) from exc
        return super().to_python(value)
