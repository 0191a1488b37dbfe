"""Eligibility: one run (preview and proposal) over a seeded population, beside per-person Python evaluation.

    .venv/bin/python benchmarks/eligibility.py [--people 1000000] [--baseline 10000] [--backends sqlite,postgresql]

The population is imported into a fresh store (about 2.5 persons per household), the four example
programmes are applied, and for each the time of a preview (counts only) and of a proposal (entitlements
written with INSERT … SELECT, counts, change, cohort digest, audit entry) is measured. The baseline is
what platforms that evaluate in Python loops do: load each person with their household and attributes,
then evaluate the same rule, person after person, measured on `--baseline` persons in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from import_rate import available_backends, drop_store, fresh_store, machine, timed_import, write_population  # noqa: E402

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CYCLE = "2026-12"


def per_person_rate(factory, code: str, persons: int) -> float:  # type: ignore[no-untyped-def]
    """Persons per second when each person is loaded (with household and attributes) and evaluated in Python."""
    from sqlalchemy import select

    from carnet.db.session import unit_of_work
    from carnet.programs import service
    from carnet.programs.rules import evaluate
    from carnet.registry import repository as registry_repo
    from carnet.registry.models import Person

    with unit_of_work(factory) as session:
        program = service.get_program(session, code)
        definition = service.program_definition(session, program)
        rule = service.checked_rule(session, definition)
        names = sorted(rule.attributes)
        ids = session.scalars(select(Person.id).order_by(Person.id).limit(persons)).all()
        start = time.perf_counter()
        eligible = 0
        for person_id in ids:
            person = registry_repo.get_person(session, person_id, region_scope=None)
            members = registry_repo.members_of(session, person.household_id) if person.household_id else [person]
            values = service._values(session, members, names)
            subject = values[person.id] if definition.unit == "person" else {"region_code": person.region_code}
            eligible += evaluate(rule, subject=subject, members=[values[m.id] for m in members],
                                 today=date(2026, 12, 1)) is True  # fmt: skip
        return len(ids) / (time.perf_counter() - start)


PASSPHRASE = "benchmark store passphrase"  # a throw-away store: its keys die with the temporary folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000, help="persons evaluated one by one in Python")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()

    from carnet.cli.programs import shipped_programs
    from carnet.db.session import make_engine, make_session_factory, unit_of_work
    from carnet.kit.actor import Actor
    from carnet.programs import service
    from carnet.programs.definition import parse_definition

    officer = Actor(user_id=None, role="program_officer", request_id="bench", purpose="eligibility", office="bench")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as tmp:
        population = Path(tmp) / "population.csv"
        seconds = write_population(population, args.people)
        print(f"seeded file: {args.people:,} persons written in {seconds:.0f} s", flush=True)
        for backend in available_backends(args.backends):
            url = fresh_store(backend, Path(tmp))
            seconds, imported, *_ = timed_import(url, population)
            factory = make_session_factory(make_engine(url))
            with unit_of_work(factory) as session:
                households = session.execute(__import__("sqlalchemy").text("SELECT count(*) FROM households")).scalar()
                for path in shipped_programs():
                    definition = parse_definition(path.read_text("utf-8"), source=path.name)
                    service.apply_program(session, actor=officer, definition=definition, passphrase=PASSPHRASE, now=NOW)
            print(f"{backend}: imported {imported:,} persons in {households:,} households in {seconds:.0f} s",
                  flush=True)  # fmt: skip
            rates = []
            for code in ("food_box", "fuel_subsidy", "cash_transfer", "health_kit"):
                timings = {}
                for persist in (False, True):
                    start = time.perf_counter()
                    with unit_of_work(factory) as session:
                        run = service.evaluate_cycle(session, actor=officer, code=code, cycle=CYCLE, now=NOW,
                                                     persist=persist)  # fmt: skip
                        eligible, evaluated = run.units_eligible, run.units_evaluated
                    timings[persist] = time.perf_counter() - start
                rate = imported / timings[True]
                rates.append(rate)
                print(f"{backend}: {code}: preview {timings[False]:.1f} s, run (entitlements written) "
                      f"{timings[True]:.1f} s = {rate:,.0f} persons/s; {eligible:,} of {evaluated:,} units eligible",
                      flush=True)  # fmt: skip
            baseline = per_person_rate(factory, "food_box", args.baseline)
            print(f"{backend}: per-person Python evaluation (load, then evaluate) of food_box on {args.baseline:,} "
                  f"persons: {baseline:,.0f} persons/s; set-based runs median {statistics.median(rates):,.0f} "
                  f"persons/s = {statistics.median(rates) / baseline:,.0f}x (goals: <= 15 s per run, >= 50x)",
                  flush=True)  # fmt: skip
            factory.kw["bind"].dispose()
            drop_store(url)


if __name__ == "__main__":
    main()
