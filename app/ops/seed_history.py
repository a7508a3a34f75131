"""Six months of demo history (the five before this one closed for pay): jobs, visits,
feedback, complaints, trainings, cases, compliance events and reviews, shaped like a real
service team's work; and a working day in progress: jobs to dispatch, a queue of visits
with mixed flags, a rejected visit waiting for its engineer's dispute, a job whose
category needs the customer's signature, and early warnings of every kind.

Deterministic (a seeded random generator), relative to now, and written with bulk ORM
inserts in the caller's transaction. Engineers differ by a "form" between 0 and 1 that
drives their response times, first-time fixes and customer scores, so that the cards,
ranks, the bonus line and a promotion streak all show something on first run.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from PIL import Image, ImageDraw

from app.domain.verification import distance_m
from app.extensions import db
from app.models import (
    Alert,
    Category,
    Complaint,
    ComplianceEvent,
    Feedback,
    Job,
    KnowledgeItem,
    Review,
    ReviewActionItem,
    Site,
    Training,
    TrainingAttendee,
    User,
    Visit,
)

CATEGORIES = ("hvac", "electrical", "plumbing", "appliance", "network")
TITLES = {
    "hvac": ["空调室内机漏水 Indoor unit leaking", "空调不制冷 AC not cooling", "新风机噪音大 Fresh-air unit noisy"],
    "electrical": ["配电箱跳闸 Breaker tripping", "应急照明故障 Emergency lights out"],
    "plumbing": ["卫生间水管漏水 Washroom pipe leak", "热水器无热水 No hot water"],
    "appliance": ["冷柜温度异常 Freezer temperature alarm", "洗碗机不排水 Dishwasher not draining"],
    "network": ["门禁系统离线 Door access offline", "无线网络中断 Wi-Fi down"],
}
GOOD_COMMENTS = ["师傅很专业，准时到达", "Fixed quickly, very polite", "处理及时，讲解清楚", "Great job, thank you"]
BAD_COMMENTS = ["又坏了，还是不行", "态度差，等了很久", "The unit is broken again", "要投诉，要求退款"]
CHECKLIST = ("ppe_worn", "power_isolated", "area_cleaned", "customer_briefed")
FORM = {  # engineer login → form (0 poor … 1 excellent)
    "li.qiang": 0.97, "zhang.wei": 0.8, "liu.yang": 0.7, "zhao.min": 0.55, "sun.hao": 0.75,
    "zhou.fang": 0.9, "wu.tao": 0.65, "xu.lin": 0.6, "huang.kai": 0.7,
}


@dataclass
class Month:
    start: datetime
    end: datetime  # exclusive; for the current month, now

    @property
    def key(self) -> str:
        return self.start.strftime("%Y-%m")


def months(now: datetime, zone: ZoneInfo, count: int = 3) -> list[Month]:
    """The current month (up to now) and the `count - 1` before it, oldest first."""
    local = now.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [first]
    for _ in range(count - 1):
        prev = (starts[0] - timedelta(days=1)).replace(day=1)
        starts.insert(0, prev)
    result = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else local
        result.append(Month(start.astimezone(UTC), end.astimezone(UTC)))
    return result


def _offset(site: Site, metres: float, rng: random.Random) -> tuple[float, float]:
    """A position about `metres` from the site (1 degree of latitude ≈ 111 km)."""
    angle = rng.random() * 6.283
    import math

    return (site.lat + metres * math.sin(angle) / 111_000,
            site.lon + metres * math.cos(angle) / (111_000 * math.cos(math.radians(site.lat))))


def seed_history(now: datetime, zone: ZoneInfo, admin: User, supervisors: list[User],
                 engineers: list[User], sites: list[Site]) -> dict[str, int]:
    rng = random.Random(20261125)
    counts = {"jobs": 0, "visits": 0, "feedback": 0, "complaints": 0}
    periods = months(now, zone, HISTORY_MONTHS)
    for month in periods:
        is_current = month is periods[-1]
        recent = month in periods[-3:]
        for engineer in engineers:
            form = FORM.get(engineer.email.split("@")[0], 0.7)
            # The older months, there for the trend, are lighter.
            n_jobs = (rng.randint(5, 8) if is_current else rng.randint(8, 12) if recent
                      else rng.randint(4, 6))
            for _ in range(n_jobs):
                _job_with_history(rng, now, month, engineer, form, supervisors, sites, counts,
                                  leave_open=is_current and rng.random() < 0.25)
        _trainings(rng, month, supervisors, engineers)
        _compliance(rng, month, supervisors, engineers)
    _unassigned_jobs(rng, now, supervisors, sites, counts)
    _knowledge(rng, periods, engineers, supervisors)
    _reviews(periods[-2], supervisors, engineers)
    db.session.flush()
    _waiting_in_queue(rng, now)
    _rejected_waiting_for_dispute(now, engineers[1])
    _signature_job(rng, now, engineers[1], supervisors, sites, counts)
    _overdue_contact(now, engineers[6], supervisors, sites, counts)
    _alerts(now)
    _close_months(admin, periods[:-1])
    counts["queue"] = db.session.scalar(
        sa.select(sa.func.count()).where(Visit.status.in_(("flagged", "disputed"))))
    return counts


HISTORY_MONTHS = 6


def _close_months(admin: User, earlier: list[Month]) -> None:
    """The earlier months were closed for pay, as an admin does each month."""
    from app.services.kpi import close_period

    for month in earlier:
        close_period(admin, month.key)


# The flags a day's queue shows, with the engineer's reason where one was given.
QUEUE = [
    (["OUTSIDE_GEOFENCE"], "小区正门封闭，从北门进入 Main gate closed, came in by the north gate"),
    (["LOW_ACCURACY"], None),
    (["MOCK_LOCATION"], None),
    (["OUTSIDE_GEOFENCE", "LOW_ACCURACY"], "地下二层机房没有信号 No signal in the B2 plant room"),
    (["SHORT_VISIT"], "客户已自行复位，现场确认即离开 Customer had reset it; confirmed and left"),
    (["CLOCK_SKEW"], None),
    (["DUPLICATE_COORDINATES"], None),
    (["LOW_ACCURACY", "SHORT_VISIT"], None),
    (["OUTSIDE_GEOFENCE"], None),
    (["IMPOSSIBLE_TRAVEL", "OUTSIDE_GEOFENCE"], None),
]


def _waiting_in_queue(rng: random.Random, now: datetime) -> None:
    """The latest checked-out visits of the last days, flagged with a mix of flags and
    waiting for their supervisor, as on any working day; liu.yang's three make a flag
    pattern."""
    latest = db.session.scalars(
        sa.select(Visit).where(Visit.status == "verified", Visit.out_client_time.is_not(None),
                               Visit.in_client_time > now - timedelta(days=6))
        .order_by(Visit.in_client_time.desc()).limit(60)
    ).all()
    per_engineer: dict[int, int] = {}
    chosen = []
    pattern = db.session.scalar(sa.select(User.id).where(User.email.startswith("liu.yang@")))
    for visit in latest:
        allowed = 3 if visit.engineer_id == pattern else 1
        if per_engineer.get(visit.engineer_id, 0) < allowed and len(chosen) < len(QUEUE):
            chosen.append(visit)
            per_engineer[visit.engineer_id] = per_engineer.get(visit.engineer_id, 0) + 1
    for visit, (flags, note) in zip(chosen, QUEUE):
        site = db.session.get(Site, visit.site_id)
        if "OUTSIDE_GEOFENCE" in flags:
            visit.in_lat, visit.in_lon = _offset(site, 2300, rng)
            visit.in_distance_m = distance_m(visit.in_lat, visit.in_lon, site.lat, site.lon)
        if "LOW_ACCURACY" in flags:
            visit.in_accuracy_m = rng.uniform(140, 320)
        if "MOCK_LOCATION" in flags:
            visit.in_mock = True
        if "SHORT_VISIT" in flags:
            visit.out_client_time = visit.in_client_time + timedelta(minutes=3)
            visit.out_server_time = visit.out_client_time + timedelta(seconds=3)
        visit.in_flags = visit.flags = list(flags)
        visit.check_in_note = note
        visit.status = "flagged"
    db.session.flush()


def _rejected_waiting_for_dispute(now: datetime, engineer: User) -> None:
    """The engineer's latest visit of the week before last was rejected yesterday: it
    waits for their dispute."""
    visit = db.session.scalar(
        sa.select(Visit).where(Visit.engineer_id == engineer.id, Visit.status == "verified",
                               Visit.out_client_time.is_not(None),
                               Visit.in_client_time < now - timedelta(days=2))
        .order_by(Visit.in_client_time.desc()).limit(1))
    if visit is None:
        return
    site = db.session.get(Site, visit.site_id)
    visit.out_lat, visit.out_lon = site.lat + 0.021, site.lon + 0.004
    visit.out_distance_m = distance_m(visit.out_lat, visit.out_lon, site.lat, site.lon)
    visit.flags = visit.out_flags = ["OUTSIDE_GEOFENCE"]
    decided = now - timedelta(hours=20)
    visit.status, visit.rejected_at, visit.decided_at = "rejected", decided, decided
    visit.decided_by_id = engineer.supervisor_id
    visit.decision_note = ("签退位置距现场2.3公里，照片时间与到场时间不符 "
                           "Checked out 2.3 km from the site; photo times do not match the visit")
    db.session.flush()


FIRE_SAFETY = ("fire_safety", "消防设施 Fire safety",
               ["ppe_worn", "alarm_tested", "extinguishers_checked", "customer_briefed"])


def _signature_job(rng, now, engineer, supervisors, sites, counts) -> None:
    """A fire-safety job (its category needs the customer's signature) whose engineer
    checked out half an hour ago with an after photo: only the signature is missing."""
    key, name, checklist = FIRE_SAFETY
    db.session.add(Category(key=key, name=name, checklist=list(checklist), signature_required=True))
    site = sites[7]
    arrive = now - timedelta(hours=2)
    job = Job(site_id=site.id, title="消防报警主机年检 Fire alarm panel annual test",
              description="年检并由客户签字确认 Annual test, signed off by the customer",
              category=key, priority="high", mode="field",
              reported_at=now - timedelta(hours=5), scheduled_for=now.date(),
              engineer_id=engineer.id, created_by_id=engineer.supervisor_id,
              assigned_at=now - timedelta(hours=4, minutes=40),
              first_contact_at=now - timedelta(hours=4, minutes=20), status="in_progress")
    db.session.add(job)
    db.session.flush()
    counts["jobs"] += 1
    lat, lon = _offset(site, 25, rng)
    db.session.add(Visit(
        job_id=job.id, site_id=site.id, engineer_id=engineer.id, status="verified", flags=[],
        in_flags=[], in_lat=lat, in_lon=lon, in_accuracy_m=12, in_client_time=arrive,
        in_server_time=arrive + timedelta(seconds=2), in_distance_m=distance_m(lat, lon, site.lat, site.lon),
        in_mock=False, out_lat=lat, out_lon=lon, out_accuracy_m=10,
        out_client_time=now - timedelta(minutes=30), out_server_time=now - timedelta(minutes=30),
        out_distance_m=distance_m(lat, lon, site.lat, site.lon), out_mock=False, out_flags=[]))
    counts["visits"] += 1
    db.session.flush()
    _after_photo(rng, engineer, job, now - timedelta(minutes=32))


def _overdue_contact(now, engineer, supervisors, sites, counts) -> None:
    """An urgent job assigned three hours ago whose customer nobody has called yet."""
    db.session.add(Job(site_id=sites[3].id, title="机房空调高温告警 Server-room AC over temperature",
                       description="机房温度38度 Server room at 38 °C", category="hvac",
                       priority="urgent", mode="field", reported_at=now - timedelta(hours=3, minutes=10),
                       scheduled_for=now.date(), engineer_id=engineer.id,
                       created_by_id=engineer.supervisor_id, assigned_at=now - timedelta(hours=3),
                       status="assigned"))
    counts["jobs"] += 1


def _alerts(now: datetime) -> None:
    """The early warnings the history would have raised as it happened: of every kind
    (negative feedback, watch-list words in feedback and in job texts, an overdue first
    contact, a flag pattern), each with its params."""
    from app.services import alerts

    for feedback in db.session.scalars(sa.select(Feedback).order_by(Feedback.id)):
        alerts.raise_feedback_alerts(feedback)
    for job in db.session.scalars(sa.select(Job).where(Job.status.in_(("new", "assigned")))
                                  .order_by(Job.id)):
        alerts.raise_job_text_alerts(job)
    alerts.scan_alerts(now)
    # Raised when their feedback came in; those older than a week were handled then.
    db.session.execute(
        sa.update(Alert).where(Alert.feedback_id.is_not(None))
        .values(created_at=sa.select(Feedback.submitted_at).where(Feedback.id == Alert.feedback_id)
                .scalar_subquery())
        .execution_options(synchronize_session=False))
    handled = now - timedelta(days=7)
    for alert in db.session.scalars(sa.select(Alert).where(Alert.created_at < handled)):
        engineer = db.session.get(User, alert.engineer_id) if alert.engineer_id else None
        alert.dismissed_at = alert.created_at + timedelta(hours=6)
        alert.dismissed_by_id = engineer.supervisor_id if engineer else None
        alert.dismiss_note = "已回访客户，问题已解决 Called the customer back; resolved"
    db.session.flush()


def _job_with_history(rng, now, month, engineer, form, supervisors, sites, counts, leave_open):
    span = (month.end - month.start).total_seconds()
    reported = month.start + timedelta(seconds=rng.uniform(0, span * 0.85))
    site = rng.choice(sites)
    category = rng.choice(CATEGORIES)
    mode = engineer.work_type or "field"
    assigned = reported + timedelta(minutes=rng.uniform(5, 60))
    contact = assigned + timedelta(minutes=rng.uniform(5, 40) / form ** 2)
    job = Job(site_id=site.id, title=rng.choice(TITLES[category]), category=category,
              priority=rng.choice(("low", "normal", "normal", "high", "urgent")), mode=mode,
              asset_ref=f"{category.upper()}-{site.id:02d}-{rng.randint(1, 4)}",
              reported_at=reported, engineer_id=engineer.id,
              created_by_id=next(s.id for s in supervisors if s.id == engineer.supervisor_id),
              assigned_at=assigned, status="assigned",
              description="客户报修：" + rng.choice(["设备异常", "需要上门检查", "影响营业"]))
    if contact < now:
        job.first_contact_at = contact
    db.session.add(job)
    db.session.flush()
    counts["jobs"] += 1
    last_out = contact
    if mode == "field":
        arrive = contact + timedelta(minutes=rng.uniform(30, 200) / form)
        if arrive >= now:
            return
        last_out = _visit(rng, now, job, engineer, site, arrive, form, counts)
        job.status = "in_progress"
        if last_out is None:
            return
    if leave_open or last_out + timedelta(minutes=15) >= now:
        return
    _after_photo(rng, engineer, job, last_out + timedelta(minutes=2))
    fixed = rng.random() < 0.55 + 0.45 * form
    all_true = rng.random() < 0.6 + 0.4 * form
    job.status = "closed"
    job.closed_at = last_out + timedelta(minutes=rng.uniform(5, 30))
    job.fixed = fixed
    job.resolution = "更换密封圈并测试 Replaced the seal and tested" if fixed else "需要订购配件 Part on order"
    job.checklist = {item: (all_true or item != "area_cleaned") for item in CHECKLIST}
    job.checklist_complete = all_true
    if rng.random() < 0.7:
        good = rng.random() < form
        score = rng.choice((9, 10, 10)) if good else rng.choice((3, 5, 6, 7, 8))
        comment = rng.choice(GOOD_COMMENTS if score >= 9 else BAD_COMMENTS + ["还可以 OK"])
        submitted = job.closed_at + timedelta(hours=rng.uniform(1, 30))
        if submitted < now:
            db.session.add(Feedback(job_id=job.id, score=score, comment=comment, submitted_at=submitted))
            counts["feedback"] += 1
            if score <= 5 and rng.random() < 0.5:
                db.session.add(Complaint(job_id=job.id, detail="客户来电投诉：" + comment,
                                         received_at=submitted + timedelta(hours=2),
                                         created_by_id=engineer.supervisor_id))
                counts["complaints"] += 1


def _photo_bytes(rng: random.Random) -> bytes:
    """A small, distinct picture (random blocks), so that no two look alike."""
    image = Image.new("RGB", (480, 360), tuple(rng.randint(60, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randint(0, 440), rng.randint(0, 320)
        draw.rectangle((x, y, x + rng.randint(20, 160), y + rng.randint(20, 120)),
                       fill=tuple(rng.randint(0, 255) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _after_photo(rng, engineer, job, at) -> None:
    """The after photo a close requires, through the same pipeline as an upload."""
    from app.services.photos import upload_photo

    photo = upload_photo(engineer, job.id, "after", _photo_bytes(rng))
    photo.created_at = at


def _visit(rng, now, job, engineer, site, arrive, form, counts) -> datetime | None:
    # Recent visits are flagged more often, so that the verification queue has work in it.
    roll = rng.random() / (4 if arrive > now - timedelta(days=4) else 1)
    far = roll < 0.06 * (1.5 - form)
    weak = not far and roll < 0.12 * (1.5 - form)
    lat, lon = _offset(site, 2300 if far else rng.uniform(5, 60), rng)
    accuracy = rng.uniform(120, 300) if weak else rng.uniform(5, 35)
    minutes = rng.uniform(45, 150)
    out = arrive + timedelta(minutes=minutes)
    flags = (["OUTSIDE_GEOFENCE"] if far else []) + (["LOW_ACCURACY"] if weak else [])
    status = "flagged" if flags else "verified"
    visit = Visit(job_id=job.id, site_id=site.id, engineer_id=engineer.id, status=status,
                  flags=flags, in_flags=list(flags), in_lat=lat, in_lon=lon, in_accuracy_m=accuracy,
                  in_client_time=arrive, in_server_time=arrive + timedelta(seconds=2),
                  in_distance_m=distance_m(lat, lon, site.lat, site.lon), in_mock=False)
    counts["visits"] += 1
    if out >= now:
        db.session.add(visit)
        return None
    out_lat, out_lon = _offset(site, rng.uniform(5, 50), rng)
    visit.out_lat, visit.out_lon, visit.out_accuracy_m = out_lat, out_lon, rng.uniform(5, 30)
    visit.out_client_time, visit.out_server_time = out, out + timedelta(seconds=3)
    visit.out_distance_m = distance_m(out_lat, out_lon, site.lat, site.lon)
    visit.out_mock, visit.out_flags = False, []
    decided = out + timedelta(hours=rng.uniform(2, 20))
    if flags and arrive < now - timedelta(days=4):  # the latest wait in the queue
        if far and rng.random() < 0.5:
            visit.status, visit.rejected_at = "rejected", decided
            visit.decision_note = "定位距离现场2公里以上，且无现场照片 Position 2 km away, no site photos"
            if rng.random() < 0.4:
                visit.status, visit.disputed_at = "disputed", decided + timedelta(hours=3)
                visit.dispute_note = "地下室信号差，我在现场 Basement, poor signal; I was on site"
        else:
            visit.status = "approved"
            visit.decision_note = "地下车库信号弱，客户确认到场 Weak signal in basement; customer confirmed"
        visit.decided_at, visit.decided_by_id = decided, engineer.supervisor_id
    db.session.add(visit)
    return out


UNASSIGNED_DESCRIPTIONS = [
    "客户来电：空调又坏了，再不修好就投诉 Customer: the AC is broken again, will complain",
    "营业中，请尽快上门 Open for business, please come soon",
    "夜间报警两次 Alarmed twice overnight",
    "需要带梯子 Bring a ladder",
    "前台可以开门 Front desk will let you in",
    "上周同一问题 Same problem last week",
]


def _unassigned_jobs(rng, now, supervisors, sites, counts):
    """Jobs reported this morning, waiting to be dispatched (the first one's description
    has watch-list words)."""
    counts["unassigned"] = len(UNASSIGNED_DESCRIPTIONS)
    for n, description in enumerate(UNASSIGNED_DESCRIPTIONS):
        site = rng.choice(sites)
        category = rng.choice(CATEGORIES)
        db.session.add(Job(site_id=site.id, title=rng.choice(TITLES[category]), category=category,
                           priority=("urgent", "high", "normal", "low", "normal", "high")[n],
                           mode="field", description=description,
                           reported_at=now - timedelta(minutes=20 + 30 * n), status="new",
                           created_by_id=supervisors[n % len(supervisors)].id,
                           scheduled_for=now.date()))
        counts["jobs"] += 1


def _trainings(rng, month, supervisors, engineers):
    for supervisor in supervisors:
        team = [e for e in engineers if e.supervisor_id == supervisor.id]
        held = month.start + timedelta(days=rng.randint(3, 12), hours=2)
        if held >= month.end:
            continue
        training = Training(title=rng.choice(["R410A 冷媒安全操作 Refrigerant safety",
                                              "高空作业规范 Working at height",
                                              "客户沟通技巧 Talking with customers"]),
                            held_at=held, hours=2, created_by_id=supervisor.id)
        db.session.add(training)
        db.session.flush()
        for engineer in team:
            if rng.random() < FORM.get(engineer.email.split("@")[0], 0.7) + 0.1:
                db.session.add(TrainingAttendee(training_id=training.id, user_id=engineer.id))


def _compliance(rng, month, supervisors, engineers):
    for engineer in engineers:
        form = FORM.get(engineer.email.split("@")[0], 0.7)
        if rng.random() < 0.5 * (1 - form):
            at = month.start + timedelta(days=rng.randint(1, 20), hours=5)
            if at < month.end:
                db.session.add(ComplianceEvent(
                    engineer_id=engineer.id, kind=rng.choice(("process_violation", "safety_incident")),
                    severity=rng.choice(("low", "medium")), occurred_at=at,
                    note="未佩戴安全帽进入机房 Entered plant room without a helmet",
                    created_by_id=engineer.supervisor_id))


def _knowledge(rng, periods, engineers, supervisors):
    cases = [
        ("空调室内机漏水处理", "室内机滴水，天花板水渍", "排水管堵塞，坡度不足", "疏通排水管，调整坡度至1%以上", ["hvac", "漏水"]),
        ("Breaker trips under load / 断路器跳闸", "Main breaker trips at lunch peak / 午间用电高峰主断路器跳闸",
         "Loose neutral terminal / 零线端子松动",
         "Torque the neutral terminal and thermal-scan the panel / 紧固零线端子并对配电柜做红外测温",
         ["electrical", "breaker", "跳闸"]),
        ("热水器点火失败排查", "热水器无法点火", "燃气压力不足", "检查减压阀并更换点火针", ["plumbing", "热水器"]),
        ("Freezer alarm after defrost", "Temperature alarm every night", "Defrost timer stuck",
         "Replace the defrost timer; check the door gasket", ["appliance", "freezer"]),
    ]
    from app.services.knowledge import index_items

    items = []
    for i, (title, symptom, cause, solution, tags) in enumerate(cases):
        author = engineers[i % len(engineers)] if i else engineers[0]
        month = periods[i % len(periods)]
        reviewed = month.start + timedelta(days=8)
        item = KnowledgeItem(author_id=author.id, kind="case", title=title, symptom=symptom,
                             cause=cause, solution=solution, tags=tags, status="approved",
                             quality=5 - i % 2, reviewed_by_id=author.supervisor_id,
                             reviewed_at=reviewed, created_at=reviewed - timedelta(days=2))
        items.append(item)
    items.append(KnowledgeItem(author_id=engineers[1].id, kind="document", title="网络交换机巡检清单",
                               solution="逐项检查端口指示灯、温度与日志", tags=["network"],
                               status="submitted"))
    db.session.add_all(items)
    db.session.flush()
    index_items(items)


def _reviews(month, supervisors, engineers):
    for engineer in engineers:
        review = Review(engineer_id=engineer.id, supervisor_id=engineer.supervisor_id,
                        period=month.key, summary="本月整体表现稳定，客户满意度有提升空间。",
                        strengths="响应及时 Quick to respond", improvements="首次修复率 First-time fix",
                        next_targets={"first_time_fix_rate": 85, "nps": 50},
                        created_at=month.end + timedelta(days=2))
        db.session.add(review)
        db.session.flush()
        db.session.add_all([
            ReviewActionItem(review_id=review.id, title="完成空调维修进阶培训 Advanced HVAC course",
                             due_date=(month.end + timedelta(days=30)).date()),
            ReviewActionItem(review_id=review.id, title="每单上传完工照片 After photo on every job",
                             due_date=(month.end + timedelta(days=14)).date()),
        ])


def today_local(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()
