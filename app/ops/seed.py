"""The demo organisation: an admin, two teams around Shanghai, their sites."""
from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

from flask import current_app

from app.extensions import db
from app.models import Site, User
from app.models.types import utcnow
from app.ops.seed_history import seed_history
from app.ops.seed_intake import seed_intake
from app.services.auth import hash_password

DEMO_DOMAIN = "demo.fieldproof.app"
DEMO_PASSWORD = "fieldproof-demo"

SUPERVISORS = [
    ("wang.lei", "王磊 Wang Lei"),
    ("chen.jing", "陈静 Chen Jing"),
]
# (login, name, level, work type, supervisor index)
ENGINEERS = [
    ("li.qiang", "李强 Li Qiang", "senior", "field", 0),
    ("zhang.wei", "张伟 Zhang Wei", "mid", "field", 0),
    ("liu.yang", "刘洋 Liu Yang", "mid", "field", 0),
    ("zhao.min", "赵敏 Zhao Min", "junior", "field", 0),
    ("sun.hao", "孙浩 Sun Hao", "mid", "remote", 0),
    ("zhou.fang", "周芳 Zhou Fang", "senior", "field", 1),
    ("wu.tao", "吴涛 Wu Tao", "mid", "field", 1),
    ("xu.lin", "徐琳 Xu Lin", "junior", "field", 1),
    ("huang.kai", "黄凯 Huang Kai", "junior", "remote", 1),
]
# Whom to call at each site (name, phone), in the order of SITES.
CONTACTS = [
    ("物业 陈经理 Mr Chen", "+862150471000"), ("工程部 林女士 Ms Lin", "021-6247 1618"),
    ("前台 王先生 Mr Wang", "+862164268888"), ("值班工程师 On-call engineer", "13816880988"),
    ("设施 赵工 Mr Zhao", "+862150801234"), ("物业 李阿姨 Ms Li", "021-6510 6000"),
    ("店长 Manager", "13901234567"), ("馆长 Curator", "+862163213380"),
    ("厂务 周工 Mr Zhou", "021-5771 2399"), ("后勤 吴主任 Director Wu", "+862159531288"),
    ("总务 郑老师 Ms Zheng", "13764006558"), ("仓库主管 Depot lead", "021-5686 2000"),
]
# (name, customer, address, lat, lon, radius)
SITES = [
    ("陆家嘴办公楼 Lujiazui Tower", "浦东置业", "上海市浦东新区陆家嘴环路1000号", 31.2397, 121.4998, 150),
    ("静安商场 Jing'an Mall", "静安商业", "上海市静安区南京西路1618号", 31.2253, 121.4470, 200),
    ("徐家汇酒店 Xujiahui Hotel", "汇金酒店", "上海市徐汇区漕溪北路88号", 31.1940, 121.4370, 150),
    ("虹桥数据中心 Hongqiao DC", "云启数据", "上海市闵行区申长路988号", 31.1960, 121.3200, 300),
    ("张江研发园 Zhangjiang R&D", "张江高科", "上海市浦东新区张江路665号", 31.2040, 121.5900, 250),
    ("五角场公寓 Wujiaochang Flats", "杨浦物业", "上海市杨浦区邯郸路600号", 31.2990, 121.5140, 120),
    ("世纪公园餐厅 Century Park Bistro", "绿野餐饮", "上海市浦东新区锦绣路1001号", 31.2150, 121.5510, 100),
    ("外滩画廊 Bund Gallery", "外滩文化", "上海市黄浦区中山东一路18号", 31.2400, 121.4900, 80),
    ("松江工厂 Songjiang Plant", "松江制造", "上海市松江区荣乐东路2399号", 31.0150, 121.2280, 500),
    ("嘉定医院 Jiading Clinic", "嘉定医疗", "上海市嘉定区城北路1288号", 31.3900, 121.2500, 200),
    ("闵行学校 Minhang School", "闵行教育", "上海市闵行区沪闵路6558号", 31.1120, 121.3810, 250),
    ("宝山仓库 Baoshan Depot", "宝山物流", "上海市宝山区长江西路2000号", 31.3400, 121.4400, 400),
]


def demo_phone(n: int) -> str:
    """The n-th demo account's phone (1 the admin, then the supervisors, then the engineers)."""
    return f"+86139000000{n:02d}"


def _user(login: str, name: str, role: str, password_hash: str, **extra) -> User:
    return User(email=f"{login}@{DEMO_DOMAIN}", name=name, role=role,
                password_hash=password_hash, locale="zh-CN", **extra)


def seed() -> Iterator[str]:
    """Add the demo data in one transaction; yields what to print."""
    password_hash = hash_password(DEMO_PASSWORD)
    admin = _user("admin", "系统管理员 Admin", "admin", password_hash)
    supervisors = [_user(login, name, "supervisor", password_hash) for login, name in SUPERVISORS]
    db.session.add_all([admin, *supervisors])
    db.session.flush()
    engineers = [
        _user(login, name, "engineer", password_hash, level=level, work_type=work_type,
              supervisor_id=supervisors[team].id)
        for login, name, level, work_type, team in ENGINEERS
    ]
    db.session.add_all(engineers)
    for n, user in enumerate([admin, *supervisors, *engineers], start=1):
        user.phone = demo_phone(n)
    sites = [
        Site(name=name, customer_name=customer, address=address, lat=lat, lon=lon,
             radius_m=radius, contact_name=contact, contact_phone=phone, created_by_id=admin.id)
        for (name, customer, address, lat, lon, radius), (contact, phone) in zip(SITES, CONTACTS)
    ]
    db.session.add_all(sites)
    db.session.flush()
    for n, engineer in enumerate(engineers):  # where each starts the day from
        engineer.home_site_id = sites[(3 * n) % len(sites)].id
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    counts = seed_history(utcnow(), zone, admin, supervisors, engineers, sites)
    source, secret, delivery = seed_intake(admin, sites)
    db.session.commit()
    yield f"Demo organisation created: 1 admin, {len(supervisors)} supervisors, " \
          f"{len(engineers)} engineers, {len(SITES)} sites around Shanghai."
    yield (f"Six months of history, the five before this one closed: {counts['jobs']} jobs, "
           f"{counts['visits']} visits, {counts['feedback']} customer ratings, "
           f"{counts['complaints']} complaints.")
    yield (f"Today: {counts['unassigned']} jobs to dispatch, {counts['queue']} visits in the "
           f"verification queue, a rejected visit for {engineers[1].email} to dispute, and a "
           f"fire-safety job that needs the customer's signature.")
    yield (f"Service desk: intake source {source.key} at POST /api/v1/intake/{source.key}, "
           f"ticket {delivery.external_id} delivered as job #{delivery.job_id}; its signing "
           f"secret (shown this once): {secret}")
    yield f"Every demo account's password is: {DEMO_PASSWORD}"
    for user in [admin, *supervisors, *engineers]:
        yield f"  {user.role:<10} {user.email}"
