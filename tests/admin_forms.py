"""Posting an admin change page back as a browser would."""
from __future__ import annotations


def admin_change_form_data(response) -> dict:
    """What the admin's change page would post back unchanged: the form's values and every inline's."""
    data = {}

    def add(form) -> None:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or value is False:
                continue
            key = form.add_prefix(name)
            data[key] = [str(v) for v in value] if isinstance(value, list | tuple) else value
    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            add(form)
    return data
