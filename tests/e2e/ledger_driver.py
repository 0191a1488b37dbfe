"""A ledger client as a small process, for tests/e2e/test_ledger_crash.py to SIGKILL at any moment.

    python -m tests.e2e.ledger_driver URL RETRY_FILE SEED NEW

It opens the store at URL (the bank's accounts open already), prints `ready`, resubmits the batches of
RETRY_FILE (JSON: a list of [key, batch]), then submits NEW random batches of the bank's traffic
(tests/integration/ledger/bank.py; -1: until killed) and prints `done`. Each batch is one transaction;
`send KEY BATCH` is printed (and flushed) before it starts and `ack KEY RESULTS` only once it has
committed: what a client that hears back knows. Pending transfers still open in the store when it starts
may be posted or voided by its batches.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from carnet.db.session import make_engine
from tests.integration.ledger import bank

OPEN_PENDING = text("""
SELECT id, debit_account_id, credit_account_id, amount, ledger, code FROM ledger_transfers
WHERE CAST(flags AS TEXT) LIKE '%"pending"%' AND id NOT IN (SELECT pending_id FROM ledger_resolutions)
""")


def say(*parts: str) -> None:
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


def main(url: str, retry_file: str, seed: int, new: int) -> None:
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    traffic = bank.Traffic(random.Random(seed))
    with engine.connect() as conn:
        for row in conn.execute(OPEN_PENDING):
            ids = [bank.as_int(value) for value in row[:3]]
            traffic.acknowledged({"id": ids[0], "debit": ids[1], "credit": ids[2], "amount": row[3], "pending_id": None,
                                  "ledger": row[4], "code": row[5], "flags": ["pending"], "timeout": 0})  # fmt: skip
    counts: Counter[str] = Counter()
    say("ready")
    work = [(key, batch) for key, batch in json.loads(Path(retry_file).read_text("utf-8"))]
    done = 0
    while work or new < 0 or done < new:
        if work:
            key, batch = work.pop(0)
        else:
            key, batch = uuid.uuid4().hex, traffic.batch(traffic.size())
            done += 1
        say("send", key, json.dumps(batch))
        results = bank.submit(factory, batch, who="ledger-driver", counts=counts)
        say("ack", key, json.dumps(results))
        for spec, result in zip(batch, results, strict=True):
            if result in bank.APPLIED:
                traffic.acknowledged(spec)
    say("done")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
