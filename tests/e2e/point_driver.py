"""A counter that never stops, for tests/e2e/test_point_crash.py to kill with SIGKILL at any moment.

`python -m tests.e2e.point_driver DIR JOBS` opens the point store in DIR with the passphrase of
CARNET_POINT_PASSPHRASE, prints `ready`, then redeems the jobs of the JSON file JOBS (a list of
{qr, pin, programme, quantity}) round and round until it is killed. It prints `recorded EVENT_ID` only once
`PointAgent.redeem` has returned, that is once the event is durably in the store: the moment the counter
would hand the box over. A refusal prints `refused CODE` (a wrong PIN also writes, its failure count).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from carnet.config import get_settings
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent, Refused
from carnet.point.keys import DeviceKeys
from carnet.point.store import PointStore


def main(directory: str, jobs_file: str) -> None:
    jobs = json.loads(Path(jobs_file).read_text("utf-8"))
    store = PointStore(Path(directory))
    agent = PointAgent(store, DeviceKeys.open(store.identity().keys, get_settings().point_passphrase), new_id=uuid7)
    agent.holdings()
    print("ready", flush=True)
    turn = 0
    while True:
        job = jobs[turn % len(jobs)]
        turn += 1
        try:
            receipt = agent.redeem(job["qr"], pin=job["pin"], now=int(time.time()), programme=job.get("programme"),
                                   quantity=job.get("quantity"))  # fmt: skip
        except Refused as refused:
            print("refused", refused.code, flush=True)
            continue
        print("recorded", receipt.event_id, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
