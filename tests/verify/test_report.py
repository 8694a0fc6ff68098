"""The verify report: columns people can scan, notes that say why, JSON scripts can trust."""

from __future__ import annotations

import io
import json

from rtssync.model import FtpProtocol
from rtssync.verify.report import print_table, render_json, render_plain
from rtssync.verify.result import VerifyResult
from rtssync.verify.runner import SubsidiaryCheck

OK = VerifyResult(True, FtpProtocol.FTP, "ftp.rtsfinancial.com", 21,
                  "logged in and listed /incoming", 0.123, ("plain FTP: in clear",))
BAD = VerifyResult(False, FtpProtocol.SFTP, "2001:db8::7", 22, "host key mismatch for x", 1.5)
CHECKS = [
    SubsidiaryCheck("alpha", OK),
    SubsidiaryCheck("bravo", BAD),
    SubsidiaryCheck("charlie", None, skipped="no RTS factoring in this file"),
]


def test_plain_text_is_aligned_columns_then_notes_then_a_summary() -> None:
    assert render_plain(CHECKS).splitlines() == [
        "SUBSIDIARY  PROTOCOL  HOST                     RESULT   TIME",
        "alpha       ftp       ftp.rtsfinancial.com:21  ok       0.12 s",
        "bravo       sftp      [2001:db8::7]:22         FAILED   1.50 s",
        "charlie     -         -                        skipped  -",
        "",
        "alpha: warning: plain FTP: in clear",
        "bravo: host key mismatch for x",
        "",
        "1 of 2 logins verified (1 skipped: no RTS factoring)",
    ]


def test_json_has_a_row_per_subsidiary_and_an_overall_verdict() -> None:
    report = json.loads(render_json(CHECKS))
    assert report["ok"] is False
    assert report["subsidiaries"][0] == {
        "key": "alpha", "status": "ok", "ok": True, "protocol": "ftp",
        "host": "ftp.rtsfinancial.com", "port": 21, "reason": "logged in and listed /incoming",
        "seconds": 0.123, "warnings": ["plain FTP: in clear"],
    }
    assert [row["status"] for row in report["subsidiaries"]] == ["ok", "failed", "skipped"]


def test_skipped_rows_do_not_fail_the_verdict() -> None:
    assert json.loads(render_json([CHECKS[0], CHECKS[2]]))["ok"] is True


def test_the_table_without_color_has_no_escape_sequences() -> None:
    stream = io.StringIO()
    print_table(CHECKS, stream, color=False)
    text = stream.getvalue()
    assert "\x1b[" not in text
    assert "bravo: host key mismatch for x" in text
    assert text.rstrip().endswith("1 of 2 logins verified (1 skipped: no RTS factoring)")
