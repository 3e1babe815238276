"""Advisors sign in once, then vote and change their vote on one poll, as fast as the server lets them."""

import json
import os
import random
from itertools import count

from locust import HttpUser, between, events, task

from tests.load.browsing import csrf_token, sign_in

POLL = os.environ["COUNCIL_LOAD_POLL"]
PASSWORD = os.environ["COUNCIL_LOAD_PASSWORD"]
_numbers = count(1)
VOTERS_WHO_SUCCEEDED: set[str] = set()
#: Advisors whose last vote got no answer (the run ended while it was on its way, or the connection was
#: cut under load): the server may or may not have counted it, and either is right.
VOTERS_CUT_OFF: set[str] = set()


class Advisor(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self):
        self.login_name = f"voter{next(_numbers)}"
        sign_in(self.client, "", self.login_name, PASSWORD)
        self.token = csrf_token(self.client.get(f"/polls/{POLL}", name="poll page").text)

    @task(3)
    def vote(self):
        choice = random.choice(["agree", "abstain", "disagree"])
        VOTERS_CUT_OFF.add(self.login_name)
        with self.client.post(
            f"/polls/{POLL}",
            name="vote",
            allow_redirects=False,
            catch_response=True,
            data={"csrf_token": self.token, "choice": choice},
        ) as response:
            if response.status_code:  # 0: no answer came back
                VOTERS_CUT_OFF.discard(self.login_name)
            if response.status_code == 303:
                VOTERS_WHO_SUCCEEDED.add(self.login_name)
                response.success()
            else:
                response.failure(f"status {response.status_code}")

    @task(1)
    def look(self):
        self.client.get(f"/polls/{POLL}", name="poll page")


@events.quitting.add_listener
def _report_voters(environment, **_kwargs):
    with open(os.environ["COUNCIL_LOAD_VOTERS_FILE"], "w") as out:
        json.dump({"voters": sorted(VOTERS_WHO_SUCCEEDED), "cut_off": sorted(VOTERS_CUT_OFF)}, out)
