"""Offline replay of 200 queued actions from the phone app against the same 200 requests
sent directly (quality.md, speed table).

    .venv/bin/python bench/offline_replay.py [--rounds 3] [--jobs 50] [--max-seconds 300]

The app runs under gunicorn on a free loopback port with a temporary SQLite database; an
engineer signed in to the real PWA in Chromium (Debian's /usr/bin/chromium, driven by
Python Playwright) has the Today screen open. Each round, for a fresh set of `--jobs`
jobs, four actions a job (first contact, check-in, check-out, a knowledge case from the
job: 200 for 50 jobs):

- replay: the browser goes offline, the actions are made through the app's own queue
  module (`submit()` of /pwa/js/outbox-client.js, imported in the page), so they wait in the
  IndexedDB outbox with their Idempotency-Keys and client times, the check-out naming
  its check-in's visit by the placeholder the queue resolves at send time; the browser
  comes back online and the time runs from that moment until the outbox is empty (sent
  by the page on the `online` event, or by the service worker's Background Sync).
- floor: the same requests (same bodies and headers, in the same order, one after
  another) sent directly from the page with fetch, the check-out using the id from the
  check-in's answer.

The two alternate (their order swaps each round). After every run the database is checked:
each job has exactly one visit, checked out, its first contact, and exactly one case.
The last line is the ratio of the medians; goal <= 2.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lighthouse import CHROMIUM, AppServer, signed_in_page  # noqa: E402  (bench/lighthouse.py)

EMAIL = "replay@bench.fieldproof.app"
PASSWORD = "replay-bench-password"
SITE = (31.2397, 121.4998)
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# The actions of one job, as the app makes them; `t` advances 10 s an action.
ACTIONS_JS = """
const actionsFor = (job, t, checkInRef) => [
  {kind: 'contact', path: `jobs/${job}/contact`, json: {at: t(0)}, job_id: job},
  {kind: 'checkin', path: 'visits/check-in', json: {job_id: job, lat: SITE[0], lon: SITE[1],
    accuracy_m: 8, client_time: t(1)}, job_id: job},
  {kind: 'checkout', path: `visits/${checkInRef}/check-out`, json: {lat: SITE[0], lon: SITE[1],
    accuracy_m: 8, client_time: t(2)}, job_id: job},
  {kind: 'case', path: 'cases', json: {kind: 'case', title: `Fan coil noise, job ${job}`,
    symptom: 'Rattling fan coil unit', cause: 'Loose mounting bracket',
    solution: 'Tightened the bracket and replaced the damper', tags: ['hvac', 'noise'], job_id: job},
   job_id: job},
];
const clock = (start, job, index) => (step) =>
  new Date(start + ((index * 4 + step) * 10000)).toISOString();
"""

ENQUEUE_JS = """async ({jobs, start, site}) => {
  const SITE = site;
  %s
  const queue = await import('/pwa/js/outbox-client.js');
  let index = 0;
  for (const job of jobs) {
    const t = clock(start, job, index++);
    const [contact, checkin, checkout, kase] = actionsFor(job, t, '{{KEY.id}}');
    for (const action of [contact, checkin]) {
      const r = await queue.submit(action);
      if (r.status !== 'queued') throw new Error(`sent while offline: ${action.kind}`);
      if (action === checkin) checkout.path = checkout.path.replace('KEY', r.key);
    }
    for (const action of [checkout, kase]) {
      const r = await queue.submit(action);
      if (r.status !== 'queued') throw new Error(`sent while offline: ${action.kind}`);
    }
  }
  return (await self.FieldProofOutbox.entries()).length;
}""" % ACTIONS_JS

# Resolves, once the outbox is empty after going online, with the moment (epoch ms).
WATCH_JS = """async () => {
  const queue = await import('/pwa/js/outbox-client.js');
  window.__replay = new Promise((resolve) => {
    let done = false;
    queue.subscribe((state) => {
      if (done || !navigator.onLine || state.sending) return;
      if (state.waiting === 0) {
        done = true;
        resolve({at: performance.timeOrigin + performance.now(), refused: state.refused,
                 errors: state.entries.filter((e) => e.state === 'refused').map((e) => e.error)});
      }
    });
  });
  return true;
}"""

DIRECT_JS = """async ({jobs, start, site}) => {
  const SITE = site;
  %s
  const csrf = await self.FieldProofOutbox.getMeta('csrf');
  const send = async (action) => {
    const r = await fetch('/api/v1/' + action.path, {method: 'POST', credentials: 'same-origin',
      cache: 'no-store', body: JSON.stringify(action.json), headers: {
        'Idempotency-Key': crypto.randomUUID(), Accept: 'application/json',
        'X-CSRF-Token': csrf, 'Content-Type': 'application/json'}});
    const text = await r.text();
    if (!r.ok) throw new Error(`${action.kind}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const started = performance.now();
  let index = 0;
  for (const job of jobs) {
    const t = clock(start, job, index++);
    const [contact, checkin, checkout, kase] = actionsFor(job, t, 'VISIT');
    await send(contact);
    const visit = await send(checkin);
    checkout.path = checkout.path.replace('VISIT', visit.id);
    await send(checkout);
    await send(kase);
  }
  return performance.now() - started;
}""" % ACTIONS_JS


class Data:
    """The bench's rows, written straight into the server's database."""

    def __init__(self, server: AppServer) -> None:
        from app import create_app
        from app.config import TestConfig

        self.app = create_app(TestConfig(server.instance,
                                         SQLALCHEMY_DATABASE_URI=server.env["DATABASE_URL"]))

    def engineer_and_site(self) -> None:
        from app.extensions import db
        from app.models import Site, User
        from app.services.auth import hash_password

        with self.app.app_context():
            supervisor = User(email="lead@bench.fieldproof.app", name="Lead", role="supervisor",
                              password_hash=hash_password(PASSWORD))
            db.session.add(supervisor)
            db.session.flush()
            engineer = User(email=EMAIL, name="Replay Engineer", role="engineer", level="mid",
                            work_type="field", supervisor_id=supervisor.id, locale="en",
                            password_hash=hash_password(PASSWORD))
            site = Site(name="Bench Tower", customer_name="Bench Co", address="1 Bench Road",
                        lat=SITE[0], lon=SITE[1], radius_m=150)
            db.session.add_all([engineer, site])
            db.session.commit()
            self.engineer_id, self.site_id = engineer.id, site.id

    def new_jobs(self, count: int) -> list[int]:
        """Open jobs assigned a day ago, unscheduled (so on the engineer's Today screen)."""
        from app.extensions import db
        from app.models import Job
        from app.models.types import utcnow

        with self.app.app_context():
            now = utcnow()
            jobs = [Job(site_id=self.site_id, title=f"Fan coil noise {i}", category="hvac",
                        priority="normal", mode="field", reported_at=now - timedelta(days=1, hours=1),
                        engineer_id=self.engineer_id, assigned_at=now - timedelta(days=1),
                        status="assigned") for i in range(count)]
            db.session.add_all(jobs)
            db.session.commit()
            return [job.id for job in jobs]

    def check_exactly_once(self, job_ids: list[int]) -> list[str]:
        """What is wrong with the stored records of these jobs (nothing: an empty list)."""
        import sqlalchemy as sa

        from app.extensions import db
        from app.models import Job, KnowledgeItem, Visit

        problems = []
        with self.app.app_context():
            visits = db.session.execute(
                sa.select(Visit.job_id, sa.func.count(), sa.func.count(Visit.out_client_time))
                .where(Visit.job_id.in_(job_ids)).group_by(Visit.job_id)).all()
            by_job = {job: (n, out) for job, n, out in visits}
            cases = dict(db.session.execute(
                sa.select(KnowledgeItem.job_id, sa.func.count())
                .where(KnowledgeItem.job_id.in_(job_ids)).group_by(KnowledgeItem.job_id)).all())
            contacted = db.session.scalar(
                sa.select(sa.func.count()).select_from(Job)
                .where(Job.id.in_(job_ids), Job.first_contact_at.is_not(None)))
            for job in job_ids:
                n, out = by_job.get(job, (0, 0))
                if n != 1 or out != 1:
                    problems.append(f"job {job}: {n} visit(s), {out} checked out")
                if cases.get(job, 0) != 1:
                    problems.append(f"job {job}: {cases.get(job, 0)} case(s)")
            if contacted != len(job_ids):
                problems.append(f"{len(job_ids) - contacted} job(s) without their first contact")
            # Done with: out of the Today list, so that every round's screen looks the same.
            db.session.execute(sa.update(Job).where(Job.id.in_(job_ids)).values(status="cancelled"))
            db.session.commit()
        return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=50, help="jobs a run (four actions each)")
    parser.add_argument("--max-seconds", type=float, default=300,
                        help="no new round starts after this long; a run waits at most a third of it")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    began = time.monotonic()
    replay_ms: list[float] = []
    direct_ms: list[float] = []
    failures: list[str] = []
    actions = args.jobs * 4
    run_timeout_ms = args.max_seconds / 3 * 1000
    with AppServer(seed=False, workers=1, threads=4) as server, sync_playwright() as playwright:
        data = Data(server)
        data.engineer_and_site()
        session = server.sign_in(EMAIL, PASSWORD)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            context, page = signed_in_page(browser, server.base, session)
            page.goto(f"{server.base}/#/today", wait_until="load")
            page.wait_for_function("async () => self.FieldProofOutbox && "
                                   "(await self.FieldProofOutbox.getMeta('csrf')) !== null", timeout=20000)
            page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
            page.set_default_timeout(run_timeout_ms)

            def replay() -> float:
                jobs = data.new_jobs(args.jobs)
                start = int((time.time() - 3600) * 1000)
                context.set_offline(True)
                queued = page.evaluate(ENQUEUE_JS, {"jobs": jobs, "start": start, "site": SITE})
                if queued != actions:
                    failures.append(f"replay: {queued} actions queued, expected {actions}")
                page.evaluate(WATCH_JS)
                online = time.time() * 1000
                context.set_offline(False)
                outcome = page.evaluate("() => window.__replay")
                if outcome["refused"]:
                    failures.append(f"replay: {outcome['refused']} refused: {outcome['errors'][:3]}")
                failures.extend(f"replay: {p}" for p in data.check_exactly_once(jobs))
                return outcome["at"] - online

            def direct() -> float:
                jobs = data.new_jobs(args.jobs)
                start = int((time.time() - 3600) * 1000)
                ms = page.evaluate(DIRECT_JS, {"jobs": jobs, "start": start, "site": SITE})
                failures.extend(f"direct: {p}" for p in data.check_exactly_once(jobs))
                return ms

            direct()  # warm-up: imports, caches and connections of both sides
            for round_ in range(args.rounds):
                if round_ and time.monotonic() - began > args.max_seconds:
                    print(f"stopped after {round_} rounds: --max-seconds {args.max_seconds:.0f} reached")
                    break
                order = [("replay", replay), ("direct", direct)]
                for name, run in order if round_ % 2 == 0 else reversed(order):
                    ms = run()
                    (replay_ms if name == "replay" else direct_ms).append(ms)
                    print(f"round {round_ + 1}: {name} {actions} actions in {ms / 1000:.2f} s "
                          f"({ms / actions:.1f} ms an action)", flush=True)
        finally:
            browser.close()

    replay, direct = statistics.median(replay_ms), statistics.median(direct_ms)
    print(f"replay from the outbox: median {replay / 1000:.2f} s; sent directly: median {direct / 1000:.2f} s "
          f"({len(replay_ms)} runs each, {time.monotonic() - began:.0f} s in all)")
    if failures:
        print("NOT stored exactly once:\n  " + "\n  ".join(failures[:20]))
    else:
        print(f"all stored exactly once: {len(replay_ms) + len(direct_ms) + 1} runs x {args.jobs} jobs, "
              f"each with one checked-out visit, its first contact and one case")
    print(f"ratio {replay / direct:.2f} (goal <= 2)")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
