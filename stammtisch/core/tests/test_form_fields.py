"""The shared form template (`includes/form_fields.html`): a field's help text carries the id
that Django's widget names in `aria-describedby`, so screen readers read it with the field."""

from __future__ import annotations

import re

from django import forms
from django.template.loader import render_to_string


class Example(forms.Form):
    name = forms.CharField(label="Name", help_text="As your guests know it.")
    note = forms.CharField(label="Note", required=False)


def test_the_help_text_is_what_the_field_is_described_by() -> None:
    html = render_to_string("includes/form_fields.html", {"form": Example()})
    described = re.findall(r'aria-describedby="([^"]+)"', html)
    assert described == ["id_name_helptext"]
    assert 'id="id_name_helptext"' in html and "As your guests know it." in html
