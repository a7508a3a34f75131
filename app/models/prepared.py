"""Statements of the busiest write run on the database driver directly (`Prepared`).

SQLAlchemy's work around each statement (its cache key, an execution context, the
parameters and rows processed through generic machinery) costs several times what the
database itself spends on the check-in's small indexed statements; on SQLite those
statements run while the database's one write lock is held (every writer of every
process waits for it), and on PostgreSQL that work is most of the check-in's CPU. A
`Prepared` statement is compiled by SQLAlchemy once per dialect and set of parameter
names, with what it does per execution worked out then: the placeholders (SQLite's ?
in order, psycopg's %(name)s by name), each value's conversion (the column types' bind
processors, so a time or a JSON value is stored exactly as SQLAlchemy stores it), the
values the statement carries itself, the columns' Python-side defaults, and each result
column's conversion (on psycopg from the type codes of the first execution's cursor,
as SQLAlchemy chooses it). An execution then only converts, runs the driver's cursor
and converts the rows back; a driver's error goes through SQLAlchemy's own handler.

The same statement runs through SQLAlchemy as usual on any other driver, outside a
transaction, and whenever a listener watches the engine's cursor executions (tests
that count statements see every one). An IN list gets a plan for each length it comes
in; a statement with values rendered into its SQL at execution is refused.
"""
from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa


MAX_PLANS = 64  # of one statement, for one database
DRIVERS = ("pysqlite", "psycopg")  # SQLite's ? placeholders; psycopg's %(name)s
TYPE_CODES = ("psycopg",)  # drivers whose rows' conversions depend on the type codes


class _Plan(NamedTuple):
    sql: str
    names: tuple[str, ...]  # the parameter of each placeholder, in order (or by name)
    convert: tuple[Callable[[Any], Any] | None, ...]
    fixed: dict[str, Any]  # values of the statement's own (literals, LIMIT)
    defaults: tuple[tuple[str, Callable[[], Any]], ...]  # Python-side column defaults
    row: type | None  # the rows' named tuple, for a statement that returns rows
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, conversion)
    expanding: tuple[str, ...] = ()  # IN lists: see the plans of their lengths (_expanded)
    compiled: Any = None
    expansion: tuple[tuple[str, tuple[str, ...]], ...] = ()  # each list's items' names
    # A driver with named placeholders (psycopg's %(name)s): the name in the SQL of each
    # of `names`; None for positional ones (SQLite's ?).
    placeholders: tuple[str, ...] | None = None
    # The rows' conversions as the columns' types and the driver's type codes decide
    # them; worked out at the first execution on a driver that gives the codes (psycopg).
    coded: list[Any] | None = None


class Prepared:
    """A statement built once, run on SQLite's cursor without SQLAlchemy's per-execution
    work (see the module's description); `rows`, `first`, `scalar` and `run` answer as
    SQLAlchemy's result would."""

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._plans: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], _Plan]] = (
            weakref.WeakKeyDictionary())

    # --- answers ---

    def rows(self, conn: sa.Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        return self._execute(conn, params, rows=True)

    def first(self, conn: sa.Connection, params: Mapping[str, Any]) -> Any | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: sa.Connection, params: Mapping[str, Any]) -> Any | None:
        found = self.first(conn, params)
        return None if found is None else found[0]

    def run(self, conn: sa.Connection,
            params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
        """Execute a statement that returns no rows, once or (a list of parameters, all
        with the same names) once for each; the rows it matched."""
        if isinstance(params, Mapping):
            return self._execute(conn, params, rows=False)
        if not params:
            return 0
        names = params[0].keys()
        if any(p.keys() != names for p in params):  # each its own statement, then
            return sum(self._execute(conn, p, rows=False) for p in params)
        if not self._direct(conn):
            return conn.execute(self.statement, [dict(p) for p in params]).rowcount
        plan = self._plan(conn.dialect, params[0])
        bound = [_bound(plan, p) for p in params]
        return _on_driver(conn, plan, bound, many=True).rowcount

    # --- execution ---

    def _execute(self, conn: sa.Connection, params: Mapping[str, Any], rows: bool) -> Any:
        if not self._direct(conn):
            result = conn.execute(self.statement, dict(params))
            return result.all() if rows else result.rowcount
        plan = self._plan(conn.dialect, params)
        cursor = _on_driver(conn, plan, _bound(plan, params), many=False)
        if not rows:
            return cursor.rowcount
        fetched = cursor.fetchall()
        if plan.row is None:
            return fetched
        results = plan.results if plan.coded is None else _coded(plan, conn.dialect, cursor)
        if results:
            fetched = [list(row) for row in fetched]
            for row in fetched:
                for index, convert in results:
                    if row[index] is not None:
                        row[index] = convert(row[index])
        return [plan.row._make(row) for row in fetched]

    @staticmethod
    def _direct(conn: sa.Connection) -> bool:
        """Whether to run on the driver: SQLite's or psycopg's, in a transaction, nobody
        listening or logging."""
        return (conn.dialect.driver in DRIVERS and conn.in_transaction()
                and not conn.dispatch.before_cursor_execute
                and not conn.dispatch.after_cursor_execute
                and not conn._echo)  # SQLALCHEMY_ECHO logs every statement

    def _plan(self, dialect: Any, params: Mapping[str, Any]) -> _Plan:
        keys = tuple(sorted(params))
        plans = self._plans.get(dialect)
        if plans is None:
            plans = self._plans[dialect] = {}
        plan = plans.get(keys)
        if plan is None:
            if len(plans) >= MAX_PLANS:  # shapes are few; this only bounds the memory
                plans.clear()
            plan = plans[keys] = _compile(self.statement, dialect, keys)
        if plan.expanding:  # one plan more for each length of its lists
            lengths = (keys, *(len(params[name] if name in params else plan.fixed[name])
                               for name in plan.expanding))
            expanded = plans.get(lengths)
            if expanded is None:
                expanded = plans[lengths] = _expanded(plan, params)
            return expanded
        return plan


def _bound(plan: _Plan, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
    """The values of the placeholders, converted as SQLAlchemy converts them."""
    values = dict(plan.fixed)
    for name, default in plan.defaults:
        values[name] = default()
    values.update(params)
    for name, items in plan.expansion:
        values.update(zip(items, values[name]))
    try:
        ordered = [values[name] for name in plan.names]
    except KeyError as missing:
        raise sa.exc.ArgumentError(f"No value for the parameter {missing}.") from None
    # None too, as SQLAlchemy does: a JSON column stores it as JSON's null.
    converted = [value if convert is None else convert(value)
                 for value, convert in zip(ordered, plan.convert)]
    if plan.placeholders is None:
        return converted
    return dict(zip(plan.placeholders, converted))


def _coded(plan: _Plan, dialect: Any, cursor: Any) -> tuple[tuple[int, Callable], ...]:
    """The rows' conversions of a plan whose columns' conversions depend on the driver's
    type codes (`cursor.description`), as SQLAlchemy works them out; once per plan."""
    if not plan.coded:
        columns = plan.compiled._result_columns
        plan.coded.append(tuple(
            (index, processor) for index, (column, described)
            in enumerate(zip(columns, cursor.description))
            if (processor := column.type._cached_result_processor(dialect, described[1]))
            is not None))
    return plan.coded[0]


def _on_driver(conn: sa.Connection, plan: _Plan, bound: Any, many: bool) -> Any:
    """The statement run on the connection's driver cursor; a driver's error is handled
    by SQLAlchemy's own handler, which raises it as SQLAlchemy raises it
    (sqlalchemy.exc.OperationalError, IntegrityError …) and invalidates the connection
    on a disconnect."""
    driver = conn.connection.driver_connection
    try:
        if many:  # (psycopg's connection has no executemany of its own)
            cursor = driver.cursor()
            cursor.executemany(plan.sql, bound)
            return cursor
        return driver.execute(plan.sql, bound)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, plan.sql, bound, None, None)


def _compile(statement: sa.Executable, dialect: Any, keys: tuple[str, ...]) -> _Plan:
    # Compiled as SQLAlchemy compiles it for an execution with these parameters (an
    # INSERT's columns and an UPDATE's SET follow the parameters' names).
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.positiontup is None and dialect.paramstyle != "pyformat":
        raise TypeError("Prepared statements need ? or %(name)s placeholders.")
    if compiled.literal_execute_params or any(
            not bind.expanding for bind in compiled.post_compile_params):
        raise TypeError("A statement with values rendered at execution cannot be prepared.")
    expanding = tuple(sorted(compiled.bind_names[bind] for bind in compiled.post_compile_params))
    names, placeholders = _names(compiled, compiled.positiontup, compiled.string, expanding)
    # Only the names the SQL uses (compiled.binds also holds each anonymous one's alias).
    fixed = {name: compiled.binds[name].effective_value for name in {*names, *expanding}
             if name not in keys and not compiled.binds[name].required}
    defaults = []
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        if default.is_callable:
            defaults.append((column.key, _called(default.arg)))
        elif default.is_scalar:
            defaults.append((column.key, _constant(default.arg)))
        else:
            raise TypeError(f"The default of {column} cannot be prepared.")
    row, results, coded = None, (), None
    if compiled._result_columns:
        columns = compiled._result_columns
        row = namedtuple("Row", [column.keyname for column in columns])
        if dialect.driver in TYPE_CODES:
            coded = []
        else:
            results = tuple(
                (index, processor) for index, column in enumerate(columns)
                if (processor := column.type._cached_result_processor(dialect, None))
                is not None)
    processors = compiled._bind_processors
    return _Plan(compiled.string, names, tuple(processors.get(n) for n in names), fixed,
                 tuple(defaults), row, results, expanding, compiled,
                 placeholders=placeholders, coded=coded)


def _names(compiled: Any, positiontup: Sequence[str] | None, sql: str,
           expanding: tuple[str, ...], items: tuple[str, ...] = (),
           ) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The parameters the SQL takes, in order (`positiontup`, SQLAlchemy's for ?
    placeholders), and with named placeholders the name of each in the SQL (SQLAlchemy
    escapes some characters there)."""
    if positiontup is not None:
        return tuple(positiontup), None
    escaped = compiled.escaped_bind_names
    names = tuple(dict.fromkeys(
        name for name in (*compiled.bind_names.values(), *items)
        if name not in expanding and f"%({escaped.get(name, name)})s" in sql))
    return names, tuple(escaped.get(name, name) for name in names)


def _expanded(plan: _Plan, params: Mapping[str, Any]) -> _Plan:
    """The plan of a statement with IN lists for lists of these lengths: its SQL as
    SQLAlchemy expands it, each list's items given as parameters of their own."""
    compiled = plan.compiled
    state = compiled.construct_expanded_state({**plan.fixed, **params})
    items = tuple(item for name in plan.expanding for item in state.parameter_expansion[name])
    names, placeholders = _names(compiled, state.positiontup, state.statement, plan.expanding,
                                 items)
    # The state's processors are its lists' items' only; the others' are the statement's.
    processors = {**compiled._bind_processors, **state.processors}
    return plan._replace(
        sql=state.statement, names=names,
        convert=tuple(processors.get(n) for n in names),
        expansion=tuple((name, tuple(state.parameter_expansion[name]))
                        for name in plan.expanding),
        expanding=(), placeholders=placeholders,
        coded=None if plan.coded is None else [])


def _called(arg: Callable[[Any], Any]) -> Callable[[], Any]:
    return lambda: arg(None)  # SQLAlchemy wraps a default that takes no context


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


@lru_cache(maxsize=128)
def prepared(statement: sa.Executable) -> Prepared:
    """The Prepared of a statement built once (the same statement, the same Prepared)."""
    return Prepared(statement)
