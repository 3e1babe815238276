"""The load tests' ballot check: a vote whose answer was cut off may or may not be counted; everything
answered is counted exactly once (tests/load/run.py, used by `make bench` and `make scale`)."""

from tests.load.run import ballots_whole

ACCEPTED = {"voter1", "voter2"}
CUT_OFF = {"voter3"}


def test_every_accepted_vote_counted_once_is_whole_whether_or_not_a_cut_off_one_counted():
    assert ballots_whole(2, 2, {"voter1", "voter2"}, ACCEPTED, CUT_OFF)
    assert ballots_whole(3, 3, {"voter1", "voter2", "voter3"}, ACCEPTED, CUT_OFF)


def test_a_lost_ballot_is_not_whole():
    assert not ballots_whole(1, 1, {"voter1"}, ACCEPTED, CUT_OFF)  # an accepted vote not on the roll
    assert not ballots_whole(1, 2, {"voter1", "voter2"}, ACCEPTED, CUT_OFF)  # a roll flag without its ballot


def test_a_doubled_or_unexplained_ballot_is_not_whole():
    assert not ballots_whole(3, 2, {"voter1", "voter2"}, ACCEPTED, CUT_OFF)  # two ballots for one flag
    assert not ballots_whole(3, 3, {"voter1", "voter2", "voter4"}, ACCEPTED, CUT_OFF)  # voter4 never voted
