"""What a query filters, joins and sorts on, per table, read with pglast (PostgreSQL's
own parser): the raw material for candidate indexes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast, enums

from .spec import CASTS, FUNCTIONS, Key

EQ_OPS = {"="}
RANGE_OPS = {"<", ">", "<=", ">="}


@dataclass
class Pred:
    """One filter on one table: `key op value`. `value` is a literal when the query
    had one, else None (a parameter); `param` is the $n it came from, if any."""

    table: tuple[str, str] | None
    key: Key
    kind: str  # eq, range, join, null, notnull
    value: Any = None
    param: int | None = None
    position: int = 0


@dataclass
class QueryShape:
    statement: str  # select, update, delete
    relations: dict[str, tuple[str | None, str]]  # alias or name -> (schema, table)
    preds: list[Pred] = field(default_factory=list)
    order: list[tuple[tuple[str, str] | None, Key]] = field(default_factory=list)
    param_count: int = 0


def parse_one(sql: str) -> Any | None:
    """The single statement in `sql`, or None when it is not exactly one statement."""
    try:
        stmts = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return None
    return stmts[0].stmt if len(stmts) == 1 else None


def analyze(sql: str) -> QueryShape | None:
    stmt = parse_one(sql)
    if isinstance(stmt, ast.SelectStmt) and stmt.op == enums.SetOperation.SETOP_NONE:
        shape = QueryShape("select", {})
        quals = []
        for item in stmt.fromClause or ():
            _relations(item, shape.relations, quals)
        conjuncts = _conjuncts(stmt.whereClause) + [c for q in quals for c in _conjuncts(q)]
        for sort in stmt.sortClause or ():
            key = _key(sort.node)
            if key:
                shape.order.append((key[0], key[1]))
    elif isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
        shape = QueryShape("update" if isinstance(stmt, ast.UpdateStmt) else "delete", {})
        _relations(stmt.relation, shape.relations, [])
        conjuncts = _conjuncts(stmt.whereClause)
    else:
        return None
    for position, node in enumerate(conjuncts):
        shape.preds.extend(_preds(node, position))
    shape.param_count = _max_param(stmt)
    return shape


def has_values_only(sql: str) -> bool:
    """One statement with no $n placeholders: a real sample, usable for costing."""
    stmt = parse_one(sql)
    return stmt is not None and not _params(stmt)


def conjunct_values(sql: str) -> list[list[Any]] | None:
    """For a real statement (with values): per WHERE conjunct, the literal values in it,
    in order. Lined up with the normalized query's conjuncts (same fingerprint, same shape)."""
    stmt = parse_one(sql)
    if stmt is None or not hasattr(stmt, "whereClause"):
        return None
    return [_literals(c) for c in _conjuncts(stmt.whereClause)]


def where_param_order(sql: str) -> list[list[int]]:
    stmt = parse_one(sql)
    if stmt is None or not hasattr(stmt, "whereClause"):
        return []
    return [_params(c) for c in _conjuncts(stmt.whereClause)]


def _relations(node, out: dict, quals: list) -> None:
    if isinstance(node, ast.RangeVar):
        table = (node.schemaname, node.relname)
        out[node.alias.aliasname if node.alias else node.relname] = table
    elif isinstance(node, ast.JoinExpr):
        _relations(node.larg, out, quals)
        _relations(node.rarg, out, quals)
        if node.quals is not None:
            quals.append(node.quals)


def _conjuncts(node) -> list:
    if node is None:
        return []
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.AND_EXPR:
        return [c for arg in node.args for c in _conjuncts(arg)]
    return [node]


def _strip_cast(node):
    return node.arg if isinstance(node, ast.TypeCast) else node


def _colref(node) -> tuple[str | None, str] | None:
    """(qualifier or None, column) for a plain column reference."""
    if isinstance(node, ast.ColumnRef) and all(isinstance(f, ast.String) for f in node.fields):
        names = [f.sval for f in node.fields]
        if len(names) == 1:
            return None, names[0]
        return names[-2], names[-1]
    return None


def _key(node) -> tuple[str | None, Key] | None:
    """A column, or an allowed function of one column (UPPER(col::text)), as an index key."""
    ref = _colref(node)
    if ref:
        return ref[0], Key(ref[1])
    if isinstance(node, ast.FuncCall) and len(node.funcname) == 1 and node.args and len(node.args) == 1:
        name = node.funcname[0].sval.lower()
        arg = node.args[0]
        cast = ""
        if isinstance(arg, ast.TypeCast):
            cast = ".".join(n.sval for n in arg.typeName.names).replace("pg_catalog.", "")
            cast = {"varchar": "varchar", "text": "text", "date": "date"}.get(cast, cast)
            arg = arg.arg
        ref = _colref(arg)
        if ref and name in FUNCTIONS and (not cast or cast in CASTS):
            return ref[0], Key(ref[1], name, cast)
    return None


def _value(node) -> tuple[bool, Any, int | None]:
    """(is a value, literal or None, parameter number or None)."""
    node = _strip_cast(node)
    if isinstance(node, ast.ParamRef):
        return True, None, node.number
    if isinstance(node, ast.A_Const):
        return True, _const(node), None
    if isinstance(node, (ast.FuncCall, ast.A_Expr)) and not _has_column(node):
        # A constant expression (now() - interval '3 days', upper($1)): a value at run time.
        params = _params(node)
        return True, None, params[0] if len(params) == 1 else None
    return False, None, None


def _has_column(node) -> bool:
    found = []

    def walk(n):
        if isinstance(n, (ast.ColumnRef, ast.SubLink)):
            found.append(n)
        elif isinstance(n, ast.Node):
            for name in n:
                walk(getattr(n, name))
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    walk(node)
    return bool(found)


def _const(node: ast.A_Const) -> Any:
    if node.isnull:
        return None
    val = node.val
    for attr in ("sval", "ival", "fval", "boolval"):
        if hasattr(val, attr):
            raw = getattr(val, attr)
            if attr == "fval":
                return float(raw)
            return raw.boolval if isinstance(raw, ast.Boolean) else raw
    return None


def _preds(node, position: int) -> list[Pred]:
    if isinstance(node, ast.NullTest):
        key = _key(node.arg)
        if key:
            kind = "null" if node.nulltesttype == enums.NullTestType.IS_NULL else "notnull"
            return [_pred(key, kind, None, None, position)]
        return []
    if not isinstance(node, ast.A_Expr):
        return []
    if node.kind == enums.A_Expr_Kind.AEXPR_IN:
        key = _key(node.lexpr)
        return [_pred(key, "eq", None, None, position)] if key else []
    if node.kind == enums.A_Expr_Kind.AEXPR_BETWEEN:
        key = _key(node.lexpr)
        return [_pred(key, "range", None, None, position)] if key else []
    if node.kind != enums.A_Expr_Kind.AEXPR_OP or len(node.name) != 1:
        return []
    op = node.name[0].sval
    if op not in EQ_OPS | RANGE_OPS:
        return []
    left, right = _key(node.lexpr), _key(node.rexpr)
    if left and right and op == "=":
        return [_pred(left, "join", None, None, position), _pred(right, "join", None, None, position)]
    for key, other in ((left, node.rexpr), (right, node.lexpr)):
        if key:
            ok, literal, param = _value(other)
            if ok:
                return [_pred(key, "eq" if op == "=" else "range", literal, param, position)]
    return []


def _pred(key, kind, value, param, position) -> Pred:
    qualifier, k = key
    return Pred(table=qualifier, key=k, kind=kind, value=value, param=param, position=position)


def _literals(node) -> list[Any]:
    found: list[Any] = []

    def walk(n):
        if isinstance(n, ast.A_Const):
            found.append(_const(n))
            return
        if isinstance(n, ast.Node):
            for name in n:
                walk(getattr(n, name))
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    walk(node)
    return found


def _params(node) -> list[int]:
    found: list[int] = []

    def walk(n):
        if isinstance(n, ast.ParamRef):
            found.append(n.number)
        elif isinstance(n, ast.Node):
            for name in n:
                walk(getattr(n, name))
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    walk(node)
    return found


def _max_param(stmt) -> int:
    return max(_params(stmt) or [0])
