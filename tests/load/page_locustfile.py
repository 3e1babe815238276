"""One page read as fast as the server answers, by 16 users at once: ``make bench``'s stand-in for wrk
(tests/load/side_by_side.py). An answer other than 2xx, a redirect included, is a failure."""

import os

from locust import FastHttpUser, constant, task

PATH = os.environ["COUNCIL_BENCH_PATH"]
COOKIE = os.environ["COUNCIL_BENCH_COOKIE"]


class PageReader(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self):
        headers = {"Cookie": COOKIE} if COOKIE else {}
        with self.client.get(PATH, name="page", headers=headers, allow_redirects=False, catch_response=True) as answer:
            if not 200 <= answer.status_code < 300:
                answer.failure(f"status {answer.status_code}")
