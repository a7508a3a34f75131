"""Knowledge cases and documents: submit, correct, review, find (Chinese included).

An engineer submits an item; the author may correct it while it waits; the author's
supervisor (or an admin) approves or rejects it with a quality mark, once. Approved
items are shared with everyone signed in; the others stay with the author, the
author's supervisor and the admins.

Search: the item's text is split into terms (app/domain/search.py) kept as rows of
`knowledge_terms`, one per (item, term) with the weight of the best field the term
appears in. A query is split the same way; every query term must match, and the
ranking (the sum over query terms of the weight each matched with, so the title
counts most) is computed in SQL, before paging.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from app.domain import search
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.models import CasePhoto, Job, KnowledgeItem, KnowledgeTag, User
from app.models.knowledge import KnowledgeTerm
from app.models.types import utcnow
from app.scope import get_visible, jobs_visible, owned_by_visible
from app.services import audit

FIELDS = ("kind", "title", "symptom", "cause", "solution", "tags", "job_id")
SEARCHED_FIELDS = frozenset({"title", "symptom", "cause", "solution", "tags"})


def cases_visible(user: User) -> sa.ColumnElement[bool]:
    """Approved items for everyone; the others for their author's scope (the author,
    the author's supervisor, the admins)."""
    return sa.or_(KnowledgeItem.status == "approved",
                  owned_by_visible(user, KnowledgeItem.author_id))


def get_case(viewer: User, item_id: int) -> KnowledgeItem:
    return with_photos([get_visible(KnowledgeItem, item_id, cases_visible(viewer))])[0]


def with_photos(items: list[KnowledgeItem]) -> list[KnowledgeItem]:
    """Attach each item's photos (`item.photos`, oldest first), for a page in one query."""
    by_item: dict[int, list[CasePhoto]] = {item.id: [] for item in items}
    if items:
        for photo in db.session.scalars(sa.select(CasePhoto).where(
                CasePhoto.case_id.in_(list(by_item))).order_by(CasePhoto.id)):
            by_item[photo.case_id].append(photo)
    for item in items:
        item.photos = by_item[item.id]  # type: ignore[attr-defined]
    return items


def submit_case(author: User, data: dict[str, Any]) -> KnowledgeItem:
    _check_job(author, data.get("job_id"))
    item = KnowledgeItem(author_id=author.id, status="submitted",
                         **{name: data.get(name) for name in FIELDS})
    db.session.add(item)
    db.session.flush()
    index_items([item])
    item.photos = []  # type: ignore[attr-defined]  # a new item has none yet
    return item


def update_case(actor: User, item_id: int, data: dict[str, Any]) -> KnowledgeItem:
    """The author corrects their item while it waits for review."""
    item = get_visible(KnowledgeItem, item_id, KnowledgeItem.author_id == actor.id)
    _lock(item)
    if item.status != "submitted":
        raise Conflict(f"The item is {item.status}; only a submitted item can be changed.")
    if "job_id" in data:
        _check_job(actor, data["job_id"])
    for name, value in data.items():
        setattr(item, name, value)
    db.session.flush()
    if SEARCHED_FIELDS & data.keys():
        index_items([item], replace=True)
    return with_photos([item])[0]


def review_case(reviewer: User, item_id: int, data: dict[str, Any]) -> KnowledgeItem:
    """Approve or reject a submitted item, once, with a quality mark (1–5)."""
    item = get_visible(KnowledgeItem, item_id, owned_by_visible(reviewer, KnowledgeItem.author_id))
    if item.author_id == reviewer.id:
        raise Forbidden("Nobody reviews their own item.")
    _lock(item)
    if item.status != "submitted":
        raise Conflict(f"The item was {item.status} already.")
    item.status = "approved" if data["decision"] == "approve" else "rejected"
    item.quality = data["quality"]
    item.review_note = data.get("note")
    item.reviewed_by_id = reviewer.id
    item.reviewed_at = utcnow()
    audit.record(reviewer.id, "case.review", "case", item.id,
                 {"decision": data["decision"], "quality": item.quality, "note": item.review_note,
                  "author_id": item.author_id})
    db.session.flush()
    return with_photos([item])[0]


def list_cases(viewer: User, args: dict[str, Any]) -> sa.Select:
    query = sa.select(KnowledgeItem).where(cases_visible(viewer))
    if args.get("status"):
        query = query.where(KnowledgeItem.status.in_(args["status"]))
    if args.get("kind"):
        query = query.where(KnowledgeItem.kind == args["kind"])
    if args.get("author_id") is not None:
        query = query.where(KnowledgeItem.author_id == args["author_id"])
    if args.get("tag"):
        query = query.where(sa.exists().where(KnowledgeTag.item_id == KnowledgeItem.id,
                                              KnowledgeTag.tag == args["tag"]))
    terms = search.query_terms(args.get("q") or "")
    if not terms:
        return query.order_by(KnowledgeItem.id.desc())
    matches = _matching_items(terms)
    return (query.join(matches, matches.c.item_id == KnowledgeItem.id)
            .order_by(matches.c.rank.desc(), KnowledgeItem.id.desc()))


def _matching_items(terms: list[search.QueryTerm]) -> sa.Subquery:
    """(item_id, rank) of the items that have every term; each term is looked up by the
    index on `term` (equality, or a range for a prefix)."""
    conditions = [_term_matches(term) for term in terms]
    # Per query term, the best weight it matched with in this item (0: no match).
    hits = [sa.func.max(sa.case((condition, KnowledgeTerm.weight), else_=0))
            for condition in conditions]
    return (
        sa.select(KnowledgeTerm.item_id, sum(hits[1:], hits[0]).label("rank"))
        .where(sa.or_(*conditions))
        .group_by(KnowledgeTerm.item_id)
        .having(sa.and_(*(hit > 0 for hit in hits)))
        .subquery("matches")
    )


def _term_matches(term: search.QueryTerm) -> sa.ColumnElement[bool]:
    if not term.prefix:
        return KnowledgeTerm.term == term.text
    # The range uses the index; LIKE keeps exactly the words beginning with the prefix,
    # whatever the database's collation orders between them.
    return sa.and_(KnowledgeTerm.term >= term.text,
                   KnowledgeTerm.term < search.prefix_upper_bound(term.text),
                   KnowledgeTerm.term.startswith(term.text, autoescape=True))


def index_items(items: Iterable[KnowledgeItem], replace: bool = False) -> None:
    """Write the search terms and tag rows of flushed items (all of them in three
    statements); `replace` first removes what an earlier version of the items left."""
    items = list(items)
    ids = [item.id for item in items]
    if replace:
        db.session.execute(sa.delete(KnowledgeTerm).where(KnowledgeTerm.item_id.in_(ids)))
        db.session.execute(sa.delete(KnowledgeTag).where(KnowledgeTag.item_id.in_(ids)))
    term_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    for item in items:
        weights = search.weighted_terms(item.title, item.tags or [],
                                        [item.symptom, item.cause, item.solution])
        item.search_terms = search.stored_form(weights)
        term_rows += [{"item_id": item.id, "term": term, "weight": weight}
                      for term, weight in weights.items()]
        tag_rows += [{"item_id": item.id, "tag": tag} for tag in item.tags or []]
    if term_rows:
        db.session.execute(sa.insert(KnowledgeTerm), term_rows)
    if tag_rows:
        db.session.execute(sa.insert(KnowledgeTag), tag_rows)
    db.session.flush()


def _check_job(author: User, job_id: int | None) -> None:
    """A case may name a job its author may see (422 otherwise)."""
    if job_id is None:
        return
    if db.session.scalar(sa.select(Job.id).where(Job.id == job_id, jobs_visible(author))) is None:
        raise Invalid("job_id must name one of your jobs.",
                      {"job_id": ["No such job among the ones you may see."]})


def _lock(item: KnowledgeItem) -> None:
    """Re-read the row under a lock (PostgreSQL; SQLite serialises writers anyway), so
    that a correction and a review, or two reviews, cannot both act on 'submitted'."""
    db.session.refresh(item, with_for_update=True)
