"""Durations as the CLI's maintenance commands and the web page's forms read and write them."""

import pytest

from dockyard.domain import durations


@pytest.mark.parametrize("text,seconds", [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45),
                                          ("2w", 14 * 86400), ("7", 7 * 86400), (" 3D ", 3 * 86400)])
def test_a_number_and_a_unit_are_read_and_a_bare_number_is_days(text, seconds):
    assert durations.seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "3 months", "-1d", "1.5h", "0d", "0", "1y", "9" * 13 + "s", "三d"])
def test_anything_else_is_refused_saying_what_is_accepted(text):
    with pytest.raises(ValueError, match=r"invalid duration .*\(use e\.g\. 30d, 12h, 90m\)"):
        durations.seconds(text)


def test_zero_is_accepted_only_where_asked_for():
    assert durations.seconds("0s", allow_zero=True) == 0 and durations.seconds("0", allow_zero=True) == 0
    with pytest.raises(ValueError, match="0s"):
        durations.seconds("never", allow_zero=True)


@pytest.mark.parametrize("seconds,text", [(None, ""), (0, "0s"), (86400, "1d"), (14 * 86400, "2w"), (36 * 3600, "36h"),
                                          (90, "90s"), (5400, "90m"), (10 * 86400, "10d")])
def test_a_duration_is_written_the_shortest_exact_way(seconds, text):
    assert durations.text(seconds) == text
    if seconds:
        assert durations.seconds(text) == seconds


def test_the_cli_refuses_a_bad_duration_with_its_own_message():
    from dockyard.client.maintenance import duration

    assert duration("0s", allow_zero=True) == 0
    with pytest.raises(SystemExit, match="^dockyard: invalid duration 'soon'"):
        duration("soon")
