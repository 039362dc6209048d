"""A row's check constraints validated in one query.

Django's ``full_clean`` asks the database about each ``CheckConstraint`` on its own, each in a savepoint of its
own: three round trips a constraint, twelve for a visit's status change, on the busiest writes there are (a
check-in, a check-out). The database is still the judge here, so the rules are never restated in Python: every
condition is one boolean column of a single ``SELECT`` over the row's values. What Django would skip (a
constraint on a field left out of the validation) is skipped, and anything the one query cannot answer goes back
to Django's own constraint-by-constraint path.
"""
from __future__ import annotations

from contextlib import nullcontext

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, router, transaction
from django.db.models import BooleanField, CheckConstraint, ExpressionWrapper, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE


_FIELDS_READ: dict[int, frozenset[str]] = {}


def _fields_read(constraint: CheckConstraint) -> frozenset[str]:
    """The row's fields a rule reads (a model's constraints live as long as the process)."""
    if (fields := _FIELDS_READ.get(id(constraint))) is None:
        fields = _FIELDS_READ[id(constraint)] = frozenset(Q(constraint.condition).referenced_base_fields)
    return fields


def _checked_at_once(instance, constraints: list[CheckConstraint], *, exclude, using) -> list[CheckConstraint] | None:
    """The constraints the row breaks, or None when the one query could not be asked."""
    query = Query(None)
    # Only the fields the rules read: each annotation is resolved by the ORM, and a visit has over thirty fields.
    read = set().union(*(_fields_read(constraint) for constraint in constraints))
    for name, value in instance._get_field_expression_map(meta=instance._meta, exclude=exclude).items():
        if name in read:
            query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    asked = []
    for constraint in constraints:
        # As Q.check does: a condition that is NULL (a nullable field unset) passes, as in the database.
        condition = Coalesce(ExpressionWrapper(Q(constraint.condition), output_field=BooleanField()), True,
                             output_field=BooleanField())
        try:
            query.add_annotation(condition, f"_check_{len(asked)}")
        except FieldError:  # it reads a field left out (exclude): Django skips it too
            continue
        asked.append(constraint)
    if not asked:
        return []
    connection = connections[using]
    try:
        with transaction.atomic(using=using) if connection.in_atomic_block else nullcontext():
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError:
        return None
    return [constraint for constraint, holds in zip(asked, row) if not holds]


class CheckConstraintsInOneQuery:
    """A model mixin: ``validate_constraints`` asks about all of the model's check constraints in one query."""

    def validate_constraints(self, exclude=None):
        using = router.db_for_write(self.__class__, instance=self)
        connection = connections[using]
        checks, others = [], []
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                plain = type(constraint) is CheckConstraint and model_class is self.__class__
                (checks if plain else others).append((model_class, constraint))
        broken = (
            _checked_at_once(self, [c for _, c in checks], exclude=exclude, using=using)
            if checks and connection.features.supports_comparing_boolean_expr else None
        )
        if broken is None:  # Django's own way, one constraint at a time
            return super().validate_constraints(exclude=exclude)
        errors: dict = {}
        for constraint in broken:
            error = ValidationError(constraint.get_violation_error_message(), code=constraint.violation_error_code)
            errors = error.update_error_dict(errors)
        for model_class, constraint in others:
            try:
                constraint.validate(model_class, self, exclude=exclude, using=using)
            except ValidationError as e:
                if getattr(e, "code", None) == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(e)
                else:
                    errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
