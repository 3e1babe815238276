"""The scale test's visitors (see scale.py).

Advisors sign in once, then read the policy and its sections, comment through the real form and
vote, each request going to the next of the two app servers in turn, so one session is served by
both. Some comment forms are sent twice at once, to both servers, as a double click that two
processes answer. Beside them a few visitors read a bare Flask page at the same pace.
"""

import itertools
import json
import os
import random
import secrets
import time
from collections import Counter

import gevent
from locust import HttpUser, between, events, task

from tests.load.browsing import csrf_token, hidden_value, sign_in

SERVERS = os.environ["COUNCIL_SCALE_SERVERS"].split(",")
BARE = os.environ["COUNCIL_SCALE_BARE"]
POLICY = os.environ["COUNCIL_SCALE_POLICY"]
NUMBER = os.environ["COUNCIL_SCALE_REVISION"]
SECTIONS = os.environ["COUNCIL_SCALE_SECTIONS"].split(",")
POLL = os.environ["COUNCIL_SCALE_POLL"]
PASSWORD = os.environ["COUNCIL_SCALE_PASSWORD"]
#: Comment posts per advisor, second sends included: under the comment rate limit, which the
#: scale test checks on its own afterwards.
POSTS_PER_ADVISOR = int(os.environ["COUNCIL_SCALE_POSTS_PER_ADVISOR"])
#: Share of comment forms sent twice at once, to both servers.
TWICE = 0.3
#: Between two actions an advisor waits this long (faster than people read), so the servers are
#: kept busy without a queue that would make the timings measure waiting instead of work.
WAIT = between(float(os.environ["COUNCIL_SCALE_WAIT_MIN"]), float(os.environ["COUNCIL_SCALE_WAIT_MAX"]))

REVISION_PATH = f"/policies/{POLICY}/revisions/{NUMBER}"
_numbers = itertools.count(1)
#: submission key -> where the server said the comment is (its redirect).
ACCEPTED_COMMENTS: dict[str, str] = {}
#: submission key -> when its form was sent (seconds since the epoch), to time how long it waits in the mix.
POSTED_AT: dict[str, float] = {}
VOTERS: set[str] = set()
#: Sent but never answered, because the run ended while they were on their way: the server may or
#: may not have stored them, and either is right.
UNANSWERED_COMMENTS: set[str] = set()
UNANSWERED_VOTERS: set[str] = set()
SENT_TWICE = Counter()
PER_SERVER = Counter()
SIGN_IN_REFUSED: list[str] = []


class Advisor(HttpUser):
    host = SERVERS[0]
    wait_time = WAIT

    def on_start(self):
        number = next(_numbers)
        self.login_name = f"voter{number}"
        self.posts = 0
        self.servers = itertools.cycle(SERVERS[number % 2 :] + SERVERS[: number % 2])
        # Behind the proxy (COUNCIL_PROXY_HOPS=1) every advisor has their own address, as in production,
        # so the sign-in limit counts each of them apart.
        self.client.headers["X-Forwarded-For"] = f"10.{number // 250 % 250}.{number % 250}.7"
        answer = sign_in(self.client, self.server(), self.login_name, PASSWORD)
        if answer.status_code != 303:
            SIGN_IN_REFUSED.append(f"{self.login_name}: {answer.status_code}")
        self.token = csrf_token(self.get(f"/polls/{POLL}", "poll page").text)

    def server(self) -> str:
        base = next(self.servers)
        PER_SERVER[base] += 1
        return base

    def get(self, path: str, name: str):
        with self.client.get(self.server() + path, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
        return response

    @task(4)
    def read_policy(self):
        self.get(REVISION_PATH, "policy page")

    @task(4)
    def read_section(self):
        self.get(f"{REVISION_PATH}/sections/{random.choice(SECTIONS)}", "section page")

    @task(2)
    def look_at_poll(self):
        self.get(f"/polls/{POLL}", "poll page")

    @task(2)
    def vote(self):
        UNANSWERED_VOTERS.add(self.login_name)
        with self.client.post(
            f"{self.server()}/polls/{POLL}",
            name="vote",
            allow_redirects=False,
            catch_response=True,
            data={"csrf_token": self.token, "choice": random.choice(["agree", "abstain", "disagree"])},
        ) as response:
            UNANSWERED_VOTERS.discard(self.login_name)
            if response.status_code == 303:
                VOTERS.add(self.login_name)
            else:
                response.failure(f"status {response.status_code}")

    @task(2)
    def comment(self):
        if self.posts + 2 > POSTS_PER_ADVISOR:
            return self.read_section()
        key = random.choice(SECTIONS)
        page = self.get(f"{REVISION_PATH}/sections/{key}", "section page").text
        form = {
            "csrf_token": csrf_token(page),
            "submission_key": hidden_value(page, "submission_key"),
            "section_key": key,
            "question": "",
            "language": "en",
            "quote_consent": "paraphrase",
            "body": f"Part of this worries me ({secrets.token_hex(4)}): say who reads the notes.",
        }
        UNANSWERED_COMMENTS.add(form["submission_key"])
        POSTED_AT[form["submission_key"]] = time.time()
        if random.random() < TWICE:
            first, second = self.server(), self.server()
            sends = [
                gevent.spawn(self._post, first, form, "comment"),
                gevent.spawn(self._post, second, form, "comment (same form, at once)"),
            ]
            gevent.joinall(sends)
            places = {send.value for send in sends}
            self.posts += 2
            SENT_TWICE["same comment" if len(places) == 1 and None not in places else "different answers"] += 1
        else:
            places = {self._post(self.server(), form, "comment")}
            self.posts += 1
        UNANSWERED_COMMENTS.discard(form["submission_key"])
        # Both servers answering is acceptance, even with two anchors: each sealed an envelope for the same
        # form, and the flush stores one comment for its submission key.
        if None not in places:
            ACCEPTED_COMMENTS[form["submission_key"]] = sorted(places)[0]

    def _post(self, base: str, form: dict, name: str) -> str | None:
        with self.client.post(
            f"{base}{REVISION_PATH}/comments", name=name, data=form, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 303:
                response.failure(f"status {response.status_code}")
                return None
            return response.headers["Location"].removeprefix(base)


class BarePageReader(HttpUser):
    """Reads a bare Flask + Jinja + SQLAlchemy page, at the advisors' pace, on the same machine."""

    host = BARE
    fixed_count = int(os.environ["COUNCIL_SCALE_BARE_READERS"])
    wait_time = WAIT

    @task
    def read(self):
        self.client.get("/", name="bare Flask page")


@events.quitting.add_listener
def _report(environment, **_kwargs):
    with open(os.environ["COUNCIL_SCALE_RESULTS"], "w") as out:
        json.dump(
            {
                "comments": ACCEPTED_COMMENTS,
                "posted_at": POSTED_AT,
                "voters": sorted(VOTERS),
                "sent_twice": SENT_TWICE,
                "per_server": PER_SERVER,
                "sign_in_refused": SIGN_IN_REFUSED,
                "unanswered_comments": sorted(UNANSWERED_COMMENTS),
                "unanswered_voters": sorted(UNANSWERED_VOTERS),
            },
            out,
        )
