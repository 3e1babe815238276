"""States are StrEnums whose values the database's CHECK constraints name, and read back as members."""

import re

import pytest

from council import models  # noqa: F401 -- every table in the metadata
from council.compensation.models import AttendanceStatus, EntryKind, PaymentMethod
from council.db_types import StrEnumColumn
from council.extensions import db
from council.feedback.models import CommentState, QuoteConsent
from council.policies.models import RevisionStatus
from council.voting.models import PollKind, PollState

CHECKED = [
    ("comments", "state", CommentState),
    ("comments", "quote_consent", QuoteConsent),
    ("polls", "kind", PollKind),
    ("polls", "state", PollState),
    ("revisions", "status", RevisionStatus),
    ("stipend_entries", "kind", EntryKind),
    ("payments", "method", PaymentMethod),
    ("attendances", "status", AttendanceStatus),
]


def _allowed_by_check(table_name: str, column: str) -> set[str]:
    table = db.metadata.tables[table_name]
    pattern = re.compile(rf"^{column} IN \((.*)\)$")
    for constraint in table.constraints:
        found = pattern.match(str(getattr(constraint, "sqltext", "")))
        if found:
            return set(re.findall(r"'([^']*)'", found.group(1)))
    raise AssertionError(f"no CHECK constraint on {table_name}.{column}")


@pytest.mark.parametrize(("table", "column", "enum"), CHECKED)
def test_check_constraints_name_exactly_the_enum_values(table, column, enum):
    assert _allowed_by_check(table, column) == {member.value for member in enum}


@pytest.mark.parametrize(("table", "column", "enum"), CHECKED)
def test_checked_columns_read_back_as_members(table, column, enum):
    column_type = db.metadata.tables[table].columns[column].type
    assert isinstance(column_type, StrEnumColumn) and column_type.enum is enum


def test_the_enum_column_stores_values_and_refuses_strangers():
    column_type = StrEnumColumn(CommentState, 12)
    assert column_type.process_bind_param(CommentState.HIDDEN, None) == "hidden"
    assert type(column_type.process_bind_param("hidden", None)) is str
    assert column_type.process_result_value("withdrawn", None) is CommentState.WITHDRAWN
    assert column_type.process_bind_param(None, None) is None
    with pytest.raises(ValueError):
        column_type.process_bind_param("deleted", None)
