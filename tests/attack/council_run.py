"""A council at work, watched by someone who holds the database.

Fourteen advisors act through the real pages (test client, CSRF, real sign-in) in a recorded, seeded
random order: posting, editing and withdrawing comments, voting and changing votes, marking the review
done, changing the interface language. Actions fall into epochs; between epochs ``flask council tick``
runs, as cron would (on ``main`` it rewrites rows; once the mix lands it flushes the pool). After every
action and every tick the attacker takes what a database holder can take: on SQLite a copy of the
database file and its ``-wal`` (read as bytes; the live files are never opened by the attacker), on
PostgreSQL a live read of every table with ``xmin`` and ``ctid`` and the WAL position.

Beside the app, the harness itself writes two controls. A deliberately leaky one: after each action,
in one transaction, a note with no user column and a row naming the actor. The attacks must find
that, so their failing to link the app's own rows means something. And a *batched* one, written as
the mix is meant to write: the epoch's notes held back and written at the tick, all in one
transaction, in random order, beside rows naming each writer in another random order. The attacks
must stay at chance on that, so their succeeding against the app means something too.

Ground truth (who wrote which comment and ballot) comes only from the advisors' passwords, through
their owner and ballot tags, after the run: the attacker never sees it.
"""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from council.accounts import state
from council.accounts.models import Role, User
from council.config import normalise_database_url
from council.extensions import db
from council.surveys import service as surveys
from tests.attack.sqlite_wal import WalWatcher
from tests.conftest import PASSWORD, open_for_review, open_poll, sign_in, submit

ADVISORS = [
    "willow", "river", "cedar", "sparrow", "amani", "juniper", "rowan",
    "hazel", "linden", "maple", "aspen", "briar", "fern", "alder",
]  # fmt: skip
LANGUAGES = ["en", "es", "fr", "ar"]
BODY = "Opening.\n\n## Consent\n\nWe ask first.\n\n## Records\n\nWe write little.\n\n## Money\n\nWe pay fairly.\n"
CHOICES = ["agree", "disagree", "abstain"]
SEED = 1717

#: The anonymous tables whose rows the attacks try to link, with the column naming a row: comments (some of
#: them pointing at a passage and proposing new words), "I agree" on another's comment, ballots, each
#: advisor's answers to the evaluation ("Is this working?"), and the marks that count who rests.
APP_TARGETS = ("comments", "comment_agreements", "ballots", "survey_responses", "rest_marks")
CONTROL_NOTES = "attack_control_notes"
CONTROL_PEOPLE = "attack_control_people"
BATCHED_NOTES = "attack_batched_notes"
BATCHED_PEOPLE = "attack_batched_people"

#: What each advisor does in each epoch (shuffled together across advisors within the epoch).
EPOCH_PLANS = [
    ["draft", "comment", "vote_a", "comment", "rest"],
    ["comment", "edit", "vote_b", "agree", "language", "evaluate", "draft"],
    ["comment", "change_vote_a", "withdraw", "agree", "review_done", "evaluate", "rest", "draft"],
    ["comment", "edit", "agree", "change_vote_b", "evaluate"],
]


@dataclass
class Observation:
    """What the attacker holds after one action (or one tick)."""

    index: int
    epoch: int
    label: str
    #: table -> primary key -> row (values as text, system columns left out)
    rows: dict[str, dict[tuple, tuple]]
    #: PostgreSQL only: table -> primary key -> (xmin, ctid); and the WAL position of the read
    system: dict[str, dict[tuple, tuple[int, tuple[int, int]]]] = field(default_factory=dict)
    wal_lsn: str | None = None


@dataclass
class Schema:
    """What the attacker learns from the schema alone."""

    columns: dict[str, list[str]]
    primary_keys: dict[str, list[str]]
    #: tables with a column naming a person (a foreign key to users), and those columns
    person_columns: dict[str, list[str]]


@dataclass
class Run:
    dialect: str
    schema: Schema
    observations: list[Observation]
    #: every action in order: (observation index, epoch, advisor login name, what)
    actions: list[tuple[int, int, str, str]]
    advisors: dict[str, str]  # login name -> user id (hex)
    #: (table, row id hex) -> writer's user id hex: from the advisors' keys, after the run
    truth: dict[tuple[str, str], str]
    wal: WalWatcher | None = None
    pg_wal_records: list[str] = field(default_factory=list)
    relfilenodes: dict[int, str] = field(default_factory=dict)
    database_oid: int | None = None
    #: actions the plan asked for that had nothing to act on (no comment of one's own to edit)
    skipped: dict[str, int] = field(default_factory=dict)
    #: comment texts written during the run, and (SQLite) the database file and its -wal at the end
    texts: list[str] = field(default_factory=list)
    files: bytes = b""
    #: observation index -> the advisor whose request it follows (the intersection council only; scoring only)
    actor_at: dict[int, str] = field(default_factory=dict)

    def active_in_epoch(self) -> dict[int, set[str]]:
        active: dict[int, set[str]] = {}
        for _, epoch, name, _what in self.actions:
            active.setdefault(epoch, set()).add(self.advisors[name])
        return active

    def epoch_of(self, observation_index: int) -> int:
        return self.observations[observation_index].epoch


def hex_id(value) -> str:
    """Every id as 32 hex digits, however the database returned it."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, bytes) and len(value) == 16:
        return value.hex()
    return uuid.UUID(str(value)).hex


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


# --- What the attacker reads ---------------------------------------------------------------


def read_schema(engine: Engine) -> Schema:
    inspector = inspect(engine)
    columns, primary_keys, person_columns = {}, {}, {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        columns[table] = [c["name"] for c in inspector.get_columns(table)]
        primary_keys[table] = inspector.get_pk_constraint(table)["constrained_columns"] or columns[table]
        naming = [
            column
            for fk in inspector.get_foreign_keys(table)
            if fk["referred_table"] == "users"
            for column in fk["constrained_columns"]
        ]
        if table == "users":
            naming = ["id"]
        if naming:
            person_columns[table] = naming
    return Schema(columns, primary_keys, person_columns)


def _read_rows(connection, schema: Schema, with_system: bool):
    rows: dict[str, dict[tuple, tuple]] = {}
    system: dict[str, dict[tuple, tuple[int, tuple[int, int]]]] = {}
    for table, columns in schema.columns.items():
        names = ", ".join(f'"{c}"' for c in columns)
        key_positions = [columns.index(c) for c in schema.primary_keys[table]]
        extra = "xmin::text::bigint, ctid::text, " if with_system else ""
        found: dict[tuple, tuple] = {}
        placed: dict[tuple, tuple[int, tuple[int, int]]] = {}
        for raw in connection.exec_driver_sql(f'SELECT {extra}{names} FROM "{table}"'):
            values = tuple(_text(v) for v in (raw[2:] if with_system else raw))
            key = tuple(values[i] for i in key_positions)
            found[key] = values
            if with_system:
                block, offset = raw[1].strip("()").split(",")
                placed[key] = (int(raw[0]), (int(block), int(offset)))
        rows[table] = found
        system[table] = placed
    return rows, system


class Watcher:
    """Takes an observation after each action: copies of the SQLite files, or a live PostgreSQL read."""

    def __init__(self, url: str, workdir: Path):
        self.url = url
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.workdir = workdir
        self.observations: list[Observation] = []
        self.engine = create_engine(normalise_database_url(url)) if self.dialect == "postgresql" else None
        self.wal: WalWatcher | None = None
        self.schema: Schema | None = None

    def live_files(self) -> bytes:
        """The SQLite database file and its ``-wal`` as they are on disk now."""
        live = Path(self.url.removeprefix("sqlite:///"))
        wal = Path(f"{live}-wal")
        return live.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    def _copy(self) -> Path:
        live = Path(self.url.removeprefix("sqlite:///"))
        copy = self.workdir / "copy.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(live, copy)
        wal = Path(f"{live}-wal")
        wal_bytes = wal.read_bytes() if wal.exists() else b""
        Path(f"{copy}-wal").write_bytes(wal_bytes)
        if self.wal is None:
            self.wal = WalWatcher(copy.read_bytes())
        self.wal.feed(wal_bytes, len(self.observations), lambda: page_to_table(copy))
        return copy

    def observe(self, epoch: int, label: str) -> Observation:
        if self.dialect == "sqlite":
            copy = self._copy()
            engine = create_engine(f"sqlite:///{copy}")
            try:
                if self.schema is None:
                    self.schema = read_schema(engine)
                with engine.connect() as connection:
                    rows, system = _read_rows(connection, self.schema, with_system=False)
            finally:
                engine.dispose()
            lsn = None
        else:
            assert self.engine is not None
            if self.schema is None:
                self.schema = read_schema(self.engine)
            with self.engine.connect() as connection:
                rows, system = _read_rows(connection, self.schema, with_system=True)
                lsn = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar()
        observation = Observation(len(self.observations), epoch, label, rows, system, lsn)
        self.observations.append(observation)
        return observation


def page_to_table(copy: Path) -> dict[int, str]:
    """Which table each page of a SQLite file belongs to (an index's pages count as its table's)."""
    connection = sqlite3.connect(copy)
    try:
        owners = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE rootpage > 0"))
        owners["sqlite_schema"] = owners["sqlite_master"] = "sqlite_schema"
        return {page: owners.get(name, name) for name, page in connection.execute("SELECT name, pageno FROM dbstat")}
    finally:
        connection.close()


# --- The council ----------------------------------------------------------------------------


class Council:
    def __init__(self, app, people, watcher: Watcher, seed: int = SEED):
        self.app = app
        self.watcher = watcher
        self.random = random.Random(seed)
        self.ids: dict[str, str] = {}
        self.clients = {}
        self.language: dict[str, str] = {}
        self.actions: list[tuple[int, int, str, str]] = []
        self.done: set[str] = set()
        self.skipped: Counter[str] = Counter()
        #: (control table, note id) -> writer's user id
        self.control_truth: dict[tuple[str, str], str] = {}
        self.held_back: list[tuple[str, str, str, str]] = []
        #: every comment text the advisors wrote, including those later edited away or withdrawn, and drafts
        self.texts: list[str] = []
        #: the section where each advisor keeps a draft, until they send it
        self.drafting: dict[str, str] = {}
        self.control = create_engine(normalise_database_url(watcher.url))
        author_id = people.make("robin", Role.AUTHOR)
        for name in ADVISORS:
            self.ids[name] = uuid.UUID(str(people.make(name, Role.ADVISOR))).hex
        with app.app_context():
            author = db.session.get(User, author_id)
            revision = open_for_review(author, body=BODY)
            db.session.flush()
            self.polls = {
                "a": str(open_poll(author, revision, question="Do you agree?").id),
                "b": str(open_poll(author, revision, question="And with this?").id),
            }
            self.keys = [s.key for s in revision.sections[1:]]
            self.path = f"/policies/{revision.policy_id}/revisions/{revision.number}"
            survey = surveys.open_evaluation(db.session, revision.policy)
            db.session.flush()
            self.evaluation = f"/policies/{revision.policy_id}/evaluations/{survey.id}"
            self.questions = [question.id.hex for question in survey.questions]
            db.session.commit()
        self._create_control_tables()
        for number, name in enumerate(ADVISORS, start=10):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number}"  # each from their own address
            sign_in(client, name)
            self.clients[name] = client
            self._set_language(name, self.random.choice(LANGUAGES))

    # -- the leaky control: written by the harness, not the app ------------------------------

    def _create_control_tables(self) -> None:
        with self.control.begin() as connection:
            for notes, people in ((CONTROL_NOTES, CONTROL_PEOPLE), (BATCHED_NOTES, BATCHED_PEOPLE)):
                connection.exec_driver_sql(
                    f"CREATE TABLE {notes} (id VARCHAR(32) PRIMARY KEY, language VARCHAR(8), "
                    "section_key VARCHAR(32), body TEXT)"
                )
                connection.exec_driver_sql(
                    f"CREATE TABLE {people} (id VARCHAR(32) PRIMARY KEY, user_id VARCHAR(32), "
                    "locale VARCHAR(8), section_key VARCHAR(32))"
                )

    def drop_control_tables(self) -> None:
        with self.control.begin() as connection:
            for table in (CONTROL_NOTES, CONTROL_PEOPLE, BATCHED_NOTES, BATCHED_PEOPLE):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        self.control.dispose()

    def _new_id(self) -> str:
        return uuid.UUID(int=self.random.getrandbits(128)).hex

    def _leak(self, name: str) -> None:
        """One note and, in the same transaction, a row naming its writer with the note's language and a
        place of its own: written together, in the same order, so every attack can pair them. The same
        note waits for the tick in the batched control."""
        note, place = self._new_id(), self._new_id()[:12]
        user_id = self.ids[name]
        with self.control.begin() as connection:
            connection.execute(
                text(f"INSERT INTO {CONTROL_NOTES} VALUES (:id, :language, :place, 'a control note')"),
                {"id": note, "language": self.language[name], "place": place},
            )
            connection.execute(
                text(f"INSERT INTO {CONTROL_PEOPLE} VALUES (:id, :user, :language, :place)"),
                {"id": self._new_id(), "user": user_id, "language": self.language[name], "place": place},
            )
        self.control_truth[(CONTROL_NOTES, note)] = user_id
        self.held_back.append((self._new_id(), self.language[name], place, user_id))

    def _write_batch(self) -> None:
        """The held-back notes in random order, and a row for each writer in another, in one transaction;
        the person rows say only who wrote in this batch, nothing of what."""
        notes, writers = list(self.held_back), sorted({user for *_, user in self.held_back})
        self.random.shuffle(notes)
        self.random.shuffle(writers)
        with self.control.begin() as connection:
            for note, language, place, user_id in notes:
                connection.execute(
                    text(f"INSERT INTO {BATCHED_NOTES} VALUES (:id, :language, :place, 'a batched note')"),
                    {"id": note, "language": language, "place": place},
                )
                self.control_truth[(BATCHED_NOTES, note)] = user_id
            for user_id in writers:
                connection.execute(
                    text(f"INSERT INTO {BATCHED_PEOPLE} VALUES (:id, :user, NULL, NULL)"),
                    {"id": self._new_id(), "user": user_id},
                )
        self.held_back.clear()

    # -- actions through the pages -------------------------------------------------------------

    def _set_language(self, name: str, language: str) -> None:
        response = submit(self.clients[name], "/language", {"locale": language, "next": "/"}, form_url="/")
        assert response.status_code == 303
        self.language[name] = language

    def _draft(self, name: str) -> bool:
        """Start a comment and leave it: the page's script keeps it a few times while the words grow."""
        client, key = self.clients[name], self.random.choice(self.keys)
        page = client.get(f"{self.path}/sections/{key}").get_data(as_text=True)
        fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
        words = f"{name} starts on {key}: {uuid.uuid4().hex[:8]}"
        for _ in range(self.random.randint(1, 3)):
            words += f" {uuid.uuid4().hex[:6]}"
            self.texts.append(words)
            data = {**fields, "body": words, "language": self.language[name], "quote_consent": "paraphrase"}
            response = client.post(f"{self.path}/drafts", data=data, headers={"X-Council-Draft": "auto"})
            assert response.status_code == 200 and response.get_json()["kept"], response.get_data(as_text=True)
        self.drafting[name] = key
        return True

    def _comment(self, name: str) -> bool:
        """A comment; most often the one the advisor kept as a draft, sent from its form (which empties the draft)."""
        client, key = self.clients[name], self.random.choice(self.keys)
        if name in self.drafting and self.random.random() < 0.7:
            key = self.drafting.pop(name)
        page = client.get(f"{self.path}/sections/{key}").get_data(as_text=True)  # the reading place moves here
        fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
        body = f"{name} thinks about {key}: {uuid.uuid4().hex[:8]}"
        self.texts.append(body)
        data = {**fields, "body": body, "language": self.language[name], "quote_consent": "verbatim", "question": ""}
        if self.random.random() < 0.5:  # half of them point at a sentence and propose new words for it
            sentences = re.findall(r'name="passage" type="radio" value="(\d+-\d+)"', page)
            proposal = f"{name} would write: {uuid.uuid4().hex[:8]}"
            self.texts.append(proposal)
            data |= {"passage": self.random.choice(sentences), "proposal": proposal}
        response = client.post(f"{self.path}/comments", data=data)
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _my_comments(self, name: str) -> list[str]:
        page = self.clients[name].get("/feedback/mine").get_data(as_text=True)
        return sorted(set(re.findall(r"/feedback/comments/([0-9a-f-]{36})/edit", page)))

    def _edit(self, name: str) -> bool:
        mine = self._my_comments(name)
        if not mine:
            return False
        comment = self.random.choice(mine)
        body = f"{name} edited: {uuid.uuid4().hex[:8]}"
        self.texts.append(body)
        response = submit(
            self.clients[name],
            f"/feedback/comments/{comment}/edit",
            {
                "body": body,
                "language": self.language[name],
                "quote_consent": "paraphrase",
            },
        )
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _withdraw(self, name: str) -> bool:
        mine = self._my_comments(name)
        if not mine:
            return False
        comment = self.random.choice(mine)
        response = submit(self.clients[name], f"/feedback/comments/{comment}/withdraw", {}, form_url="/feedback/mine")
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _agree(self, name: str) -> bool:
        """ "I agree" with another advisor's comment on a section, one not agreed with yet."""
        client, key = self.clients[name], self.random.choice(self.keys)
        page = client.get(f"{self.path}/sections/{key}").get_data(as_text=True)
        agreeable = re.findall(r'action="(/feedback/comments/[0-9a-f-]{36}/agree)"', page)
        if not agreeable:
            return False
        url = self.random.choice(agreeable)
        response = submit(client, url, {}, form_url=f"{self.path}/sections/{key}")
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _evaluate(self, name: str) -> bool:
        """Answer the evaluation, or change one's answers: a point for each question, now and then words."""
        data = {
            f"score_{question}": self.random.choice(["1", "2", "3", "4", "5", "none"]) for question in self.questions
        }
        if self.random.random() < 0.5:
            data[f"words_{self.random.choice(self.questions)}"] = f"{name} finds it {self.random.choice(CHOICES)}."
            data["language"] = self.language[name]
        response = submit(self.clients[name], self.evaluation, data)
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _rest(self, name: str) -> bool:
        """Choose how much to take part: in this round, or until further notice; resting, reading only, or as usual."""
        choice = self.random.choice(["resting", "read_only", "review"])
        if self.random.random() < 0.5:
            url, data = f"/taking-part{self.path}", {"choice": choice if choice != "review" else "usual"}
            response = submit(self.clients[name], url, data, form_url=self.path)
        else:
            response = submit(self.clients[name], "/taking-part/", {"choice": choice})
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _vote(self, name: str, poll: str) -> bool:
        response = submit(self.clients[name], f"/polls/{self.polls[poll]}", {"choice": self.random.choice(CHOICES)})
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _review_done(self, name: str) -> bool:
        response = submit(self.clients[name], f"{self.path}/review-done", {}, form_url=self.path)
        assert response.status_code == 303, response.get_data(as_text=True)
        return True

    def _change_language(self, name: str) -> bool:
        self._set_language(name, self.random.choice([code for code in LANGUAGES if code != self.language[name]]))
        return True

    def act(self, name: str, what: str) -> bool:
        if what == "comment":
            return self._comment(name)
        if what == "draft":
            return self._draft(name)
        if what == "edit":
            return self._edit(name)
        if what == "withdraw":
            return self._withdraw(name)
        if what == "agree":
            return self._agree(name)
        if what in ("vote_a", "change_vote_a", "vote_b", "change_vote_b"):
            return self._vote(name, what[-1])
        if what == "review_done":
            return self._review_done(name)
        if what == "language":
            return self._change_language(name)
        if what == "evaluate":
            return self._evaluate(name)
        if what == "rest":
            return self._rest(name)
        raise ValueError(what)

    def tick(self, epoch: int) -> None:
        # Seen before the tick: once the mix lands, the tick may checkpoint and truncate SQLite's -wal.
        self._write_batch()
        self.watcher.observe(epoch, "batched control")
        result = self.app.test_cli_runner().invoke(args=["council", "tick"])
        assert result.exit_code == 0, result.output
        self.watcher.observe(epoch, "tick")

    def run(self) -> None:
        self.watcher.observe(-1, "before")
        for epoch, plan in enumerate(EPOCH_PLANS):
            order = [(name, what) for name in ADVISORS for what in plan]
            self.random.shuffle(order)
            for name, what in order:
                if not self.act(name, what):
                    self.skipped[what] += 1
                    continue
                self._leak(name)
                observation = self.watcher.observe(epoch, what)
                self.actions.append((observation.index, epoch, name, what))
            self.tick(epoch)

    # -- ground truth, from the passwords --------------------------------------------------

    def truth(self) -> dict[tuple[str, str], str]:
        from council.feedback import service as feedback
        from council.feedback.models import Comment, CommentAgreement
        from council.policies.models import Revision
        from council.security import PASSWORD as PASSWORD_PURPOSE
        from council.security import participation_tag, unwrap_key
        from council.surveys.models import SurveyResponse
        from council.taking_part import service as taking_part
        from council.taking_part.models import RestMark
        from council.voting import service as voting
        from council.voting.models import Ballot

        found: dict[tuple[str, str], str] = {}
        with self.app.app_context():
            keys = {}
            for user_id in self.ids.values():
                user = db.session.get(User, uuid.UUID(user_id))
                keys[user_id] = unwrap_key(
                    user.key_wrapped_by_password, PASSWORD, purpose=PASSWORD_PURPOSE, user_id=user.id
                )
            for comment in db.session.query(Comment):
                for user_id, key in keys.items():
                    if feedback.owns(comment, key):
                        found[("comments", comment.id.hex)] = user_id
            for agreement in db.session.query(CommentAgreement):
                for user_id, key in keys.items():
                    if agreement.agreement_tag == feedback.agreement_tag(key, agreement.comment_id):
                        found[("comment_agreements", agreement.id.hex)] = user_id
            for response in db.session.query(SurveyResponse):
                for user_id, key in keys.items():
                    if response.response_tag == surveys.response_tag(key, response.survey_id):
                        found[("survey_responses", response.id.hex)] = user_id
            for mark in db.session.query(RestMark):
                for user_id, key in keys.items():
                    if mark.rest_tag == taking_part.rest_tag(key, mark.revision_id):
                        found[("rest_marks", mark.id.hex)] = user_id
            for ballot in db.session.query(Ballot):
                for user_id, key in keys.items():
                    if ballot.ballot_tag is not None and ballot.ballot_tag == voting.ballot_tag(key, ballot.poll_id):
                        found[("ballots", ballot.id.hex)] = user_id
            # Whose each sealed-state row is (only for scoring the pseudonyms; the attacker cannot tell).
            names = ["locale", "notices-seen"] + [f"place:{r}" for r in db.session.scalars(select(Revision.id))]
            names += state.draft_names()
            for user_id, key in keys.items():
                for name in names:
                    found[("sealed_state", participation_tag(key, "state", name).hex())] = user_id
            db.session.remove()
        return found | self.control_truth
