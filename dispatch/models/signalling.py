"""A QuerySet whose update() tells of itself, for the rows a cached feed holder rests on.

QuerySet.update() (and bulk_update(), which calls it) is one UPDATE that sends no post_save: a therapist or user
switched off that way kept a cached feed holder believed (d7fb120, reverted in aac1d64). Models whose rows decide
whether a feed secret still opens its feed use this QuerySet, and dispatch.cache_versions listens to rows_updated
as it does to post_save. Raw SQL is not seen: what changes these rows outside the ORM must bump the versions itself
(``dispatch.cache_versions.feed_access_bump_all``).
"""
from __future__ import annotations

from django.contrib.auth.models import UserManager as AuthUserManager
from django.db import models
from django.dispatch import Signal

rows_updated = Signal()  # sender: the model whose rows a QuerySet.update() changed


class SignallingQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        count = super().update(**kwargs)
        rows_updated.send(sender=self.model)
        return count

    update.alters_data = True


SignallingManager = models.Manager.from_queryset(SignallingQuerySet)


class UserManager(AuthUserManager.from_queryset(SignallingQuerySet)):
    pass
