"""The point agent's two jobs as small processes, for tests/e2e/test_point_crash.py to SIGKILL at any moment.

Both open the point store in DIR with the passphrase of CARNET_POINT_PASSPHRASE, and import only the
point agent (a process that starts in a fraction of the `carnet` command's time, so that a test can
kill many of them):

- `python -m tests.e2e.point_driver redeem DIR JOBS` prints `ready`, then redeems the jobs of the JSON file
  JOBS (a list of {qr, pin, programme, quantity}) round and round until it is killed. It prints
  `recorded EVENT_ID` only once `PointAgent.redeem` has returned, that is once the event is durably in the
  store: the moment the counter would hand the box over. A refusal prints `refused CODE` (a wrong PIN
  writes too: its failure count).
- `python -m tests.e2e.point_driver sync DIR` does what `carnet point sync` does (`carnet.point.sync.sync`
  over HTTP to the server the device enrolled with) and prints its report.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from carnet.config import get_settings
from carnet.kit.ids import uuid7
from carnet.point.agent import PointAgent, Refused
from carnet.point.client import ServerLink
from carnet.point.keys import DeviceKeys
from carnet.point.store import PointStore
from carnet.point.sync import sync as push_events


def open_agent(directory: str) -> PointAgent:
    store = PointStore(Path(directory))
    return PointAgent(store, DeviceKeys.open(store.identity().keys, get_settings().point_passphrase), new_id=uuid7)


def redeem(directory: str, jobs_file: str) -> None:
    jobs = json.loads(Path(jobs_file).read_text("utf-8"))
    agent = open_agent(directory)
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


def sync(directory: str) -> None:
    agent = open_agent(directory)
    report = push_events(agent, ServerLink(agent.identity.server_url), now=int(time.time()))
    print(json.dumps({"sent": report.sent, "acknowledged": report.acknowledged, "waiting": report.waiting}))


if __name__ == "__main__":
    {"redeem": redeem, "sync": sync}[sys.argv[1]](*sys.argv[2:])
