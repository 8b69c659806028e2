from datetime import datetime, timedelta, timezone

from odoo.tests import BaseCase, tagged

from ..exceptions import MfgValidationError
from ..lib.dates import Rfc3339Error, format_rfc3339, parse_rfc3339


@tagged("post_install", "-at_install")
class TestDates(BaseCase):
    """lib.dates: the one RFC 3339 parser and formatter (naive UTC in Odoo)."""

    def test_parse_utc_and_offsets(self):
        expected = datetime(2026, 3, 1, 7, 15, 0)
        for text in (
            "2026-03-01T07:15:00Z",
            "2026-03-01t07:15:00z",
            "2026-03-01 07:15:00Z",
            "2026-03-01T08:15:00+01:00",
            "2026-03-01T02:45:00-04:30",
            "2026-03-01T07:15:00+00:00",
            "2026-03-01T07:15:00-00:00",
            " 2026-03-01T07:15:00Z ",
        ):
            with self.subTest(text=text):
                self.assertEqual(parse_rfc3339(text), expected)

    def test_parse_crosses_midnight_and_year(self):
        self.assertEqual(parse_rfc3339("2027-01-01T00:30:00+01:00"), datetime(2026, 12, 31, 23, 30))
        self.assertEqual(parse_rfc3339("2028-02-28T23:00:00-02:00"), datetime(2028, 2, 29, 1, 0))

    def test_parse_fractions(self):
        self.assertEqual(parse_rfc3339("2026-03-01T07:15:00.5Z"), datetime(2026, 3, 1, 7, 15, 0, 500000))
        self.assertEqual(parse_rfc3339("2026-03-01T07:15:00.123456Z").microsecond, 123456)
        # digits beyond the microsecond are cut, never rounded into the next second
        self.assertEqual(
            parse_rfc3339("2026-03-01T07:15:59.9999999Z"), datetime(2026, 3, 1, 7, 15, 59, 999999)
        )

    def test_parse_datetimes(self):
        aware = datetime(2026, 3, 1, 8, 15, tzinfo=timezone(timedelta(hours=1)))
        self.assertEqual(parse_rfc3339(aware), datetime(2026, 3, 1, 7, 15))
        naive = datetime(2026, 3, 1, 7, 15)
        self.assertEqual(parse_rfc3339(naive), naive)

    def test_parse_refuses_what_is_not_rfc3339(self):
        for value in (
            "2026-03-01",  # a date
            "2026-03-01T07:15:00",  # no offset
            "2026-03-01T07:15Z",  # no seconds
            "20260301T071500Z",  # ISO 8601 basic form
            "2026-03-01T07:15:00+0100",  # offset without colon
            "٢٠٢٦-03-01T07:15:00Z",  # digits of another script
            "2026-02-30T07:15:00Z",  # no such day
            "2026-03-01T24:00:00Z",  # no such hour
            "2026-03-01T07:15:60Z",  # leap seconds are not Odoo's
            "2026-03-01T07:15:00+24:00",  # no such offset
            "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
            "",
            "yesterday",
            None,
            1767225600,
        ):
            with self.subTest(value=value), self.assertRaises(Rfc3339Error):
                parse_rfc3339(value, "at")

    def test_error_names_the_field_and_value(self):
        with self.assertRaises(Rfc3339Error) as caught:
            parse_rfc3339("2026-13-01T00:00:00Z", "/lines/0/at")
        error = caught.exception
        self.assertIn("'/lines/0/at'", str(error))
        self.assertIn("'2026-13-01T00:00:00Z'", str(error))
        self.assertEqual(error.path, "/lines/0/at")
        # a contract error of the payload (the message is rejected), and a ValueError outside the pipeline
        self.assertIsInstance(error, MfgValidationError)
        self.assertIsInstance(error, ValueError)
        with self.assertRaises(Rfc3339Error) as caught:
            parse_rfc3339("soon", "moved_at")
        self.assertEqual(caught.exception.path, "/moved_at")
        self.assertIn("Field 'moved_at': 'soon' is not an RFC 3339 date-time", str(caught.exception))
        with self.assertRaises(Rfc3339Error) as caught:
            parse_rfc3339("x" * 500)
        self.assertLess(len(str(caught.exception)), 300, "a huge value is not quoted whole")

    def test_format(self):
        self.assertEqual(format_rfc3339(datetime(2026, 3, 1, 7, 15, 0, 999999)), "2026-03-01T07:15:00Z")
        aware = datetime(2026, 3, 1, 8, 15, tzinfo=timezone(timedelta(hours=1)))
        self.assertEqual(format_rfc3339(aware), "2026-03-01T07:15:00Z")
        self.assertIsNone(format_rfc3339(False))
        self.assertIsNone(format_rfc3339(None))

    def test_round_trip(self):
        moment = datetime(2026, 10, 25, 1, 30, 5)
        self.assertEqual(parse_rfc3339(format_rfc3339(moment)), moment)
        with_fraction = datetime(2026, 3, 1, 7, 15, 0, 250000)
        self.assertEqual(parse_rfc3339(format_rfc3339(with_fraction)), with_fraction.replace(microsecond=0))
