"""The sent-message record: what makes a re-delivered ``message.send`` a no-op."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from worker import sent_messages
from worker.sent_messages import SentLog

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_recorded_send_is_found_again_by_a_new_reader(tmp_path):
    SentLog(tmp_path).record("msg-1", "3EB0AA", AT)
    found = SentLog(tmp_path).get("msg-1")  # as after a restart or a restore elsewhere
    assert found is not None and (found.wa_id, found.at) == ("3EB0AA", AT)
    assert SentLog(tmp_path).get("msg-2") is None


def test_a_line_torn_by_a_crash_is_skipped_and_the_rest_still_counts(tmp_path):
    log = SentLog(tmp_path)
    log.record("msg-1", "3EB0AA", AT)
    with open(log.journal, "a", encoding="utf-8") as out:
        out.write('{"id": "msg-2", "wa_')  # the process died mid-write
    log.record("msg-3", "3EB0CC", AT)
    assert log.get("msg-1") is not None and log.get("msg-3") is not None
    assert log.get("msg-2") is None


def test_the_record_of_an_older_worker_still_counts(tmp_path):
    (tmp_path / "wagate").mkdir()
    legacy = {"msg-old": {"wa_id": "3EB0OLD", "at": AT.isoformat()}}
    (tmp_path / "wagate" / "sent.json").write_text(json.dumps(legacy))
    log = SentLog(tmp_path)
    log.record("msg-new", "3EB0NEW", AT)
    assert log.get("msg-old").wa_id == "3EB0OLD" and log.get("msg-new").wa_id == "3EB0NEW"


def test_a_long_journal_is_folded_into_the_map_keeping_the_newest_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(sent_messages, "FOLD_AFTER_BYTES", 1_000)
    monkeypatch.setattr(sent_messages, "KEEP", 10)
    log = SentLog(tmp_path)
    log.record("msg-0", "w0", AT)
    assert not log.fold_if_due()  # short journal: nothing to do
    for n in range(1, 30):
        log.record(f"msg-{n}", f"w{n}", AT)
    assert log.fold_if_due()
    assert not log.journal.exists()
    kept = json.loads(log.path.read_text())
    assert list(kept) == [f"msg-{n}" for n in range(20, 30)]
    assert log.get("msg-29").wa_id == "w29" and log.get("msg-0") is None
    log.record("msg-30", "w30", AT)  # a new journal after the fold
    assert log.get("msg-30") is not None and log.get("msg-25") is not None
