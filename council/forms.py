"""Forms every feature may use."""

from __future__ import annotations

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """For buttons that only need CSRF protection."""
