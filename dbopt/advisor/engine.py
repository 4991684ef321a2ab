"""The advisor: heavy queries in, proven index proposals out.

For each heavy query: its plan cost now (with real parameter values from the workload's
samples where there are any, else the generic plan), candidate indexes from its filters,
joins and sort keys, each costed with a hypothetical index. The best candidate that
cuts the cost by MIN_COST_REDUCTION is kept; proposals are weighed by the time their
queries take in total; the final set is checked against every heavy query for
regressions. Without hypopg the same candidates are offered, marked unproven.
"""
from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pglast
import psycopg

from ..conf import dbopt_settings
from . import parse
from .catalog import Catalog, ExistingIndex, covering_index, existing_from_rows
from .spec import Cond, IndexSpec, Key

log = logging.getLogger(__name__)


@dataclass
class Target:
    """A heavy query as the advisor costs it."""

    queryid: str
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    shape: parse.QueryShape
    samples: list[str]
    cost: float = 0.0
    source: str = "generic"
    plans: list[dict] = field(default_factory=list)


@dataclass
class Proposal:
    spec: IndexSpec
    proven: bool
    queries: list[dict[str, Any]] = field(default_factory=list)
    benefit_ms: float = 0.0

    def evidence(self) -> dict[str, Any]:
        return {"index": self.spec.label, "proven": self.proven, "benefit_ms": round(self.benefit_ms, 3),
                "queries": self.queries}


@dataclass
class Advice:
    hypopg: bool
    proposals: list[Proposal] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    heavy_queries: int = 0
    regression_checked: int = 0
    # Every candidate index considered (proven, rejected or beaten by a simpler one).
    tried: list[str] = field(default_factory=list)
    # Every heavy query's planned cost now and with the whole proposed set in place.
    set_check: list[dict[str, Any]] = field(default_factory=list)


class Planner:
    """Plan costs in one session, where hypothetical indexes live."""

    def __init__(self, conn: psycopg.Connection, hypopg: bool):
        self.conn = conn
        self.hypopg = hypopg

    def cost(self, target: Target) -> tuple[float, list[dict]]:
        """Mean planned cost over the target's real samples, else of the generic plan. A
        sample that no longer plans (a column dropped since) is set aside for good."""
        plans = []
        for sample in list(target.samples):
            try:
                plans.append(self._explain(sample))
            except psycopg.Error:
                target.samples.remove(sample)
        if not plans:
            plans.append(self._explain_generic(target.query, target.shape.param_count))
        return sum(p["Total Cost"] for p in plans) / len(plans), plans

    def _explain(self, statement: str) -> dict:
        row = self.conn.execute("EXPLAIN (FORMAT JSON) " + statement).fetchone()
        return _plan(row[0])

    def _explain_generic(self, query: str, params: int) -> dict:
        self.conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            self.conn.execute("PREPARE dbopt_q AS " + query)
            try:
                args = ", ".join(["NULL"] * params)
                row = self.conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE dbopt_q{'(' + args + ')' if params else ''}"
                                        ).fetchone()
            finally:
                self.conn.execute("DEALLOCATE dbopt_q")
            return _plan(row[0])
        finally:
            self.conn.execute("RESET plan_cache_mode")

    @contextlib.contextmanager
    def hypothetical(self, specs: list[IndexSpec]) -> Iterator[dict[int, IndexSpec]]:
        oids: dict[int, IndexSpec] = {}
        try:
            for spec in specs:
                row = self.conn.execute("SELECT indexrelid FROM hypopg_create_index(%s)",
                                        (spec.create_sql().as_string(self.conn),)).fetchone()
                oids[int(row[0])] = spec
            yield oids
        finally:
            for oid in oids:
                self.conn.execute("SELECT hypopg_drop_index(%s)", (oid,))


def _plan(value: Any) -> dict:
    data = json.loads(value) if isinstance(value, str) else value
    return data[0]["Plan"]


def plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


def uses_hypothetical(plans: list[dict], oids: set[int]) -> set[int]:
    used = set()
    for plan in plans:
        for node in plan_nodes(plan):
            name = node.get("Index Name", "")
            for oid in oids:
                if name.startswith(f"<{oid}>"):
                    used.add(oid)
    return used


def seq_scanned(plans: list[dict], table: str) -> bool:
    return any(n.get("Node Type") == "Seq Scan" and n.get("Relation Name") == table
               for p in plans for n in plan_nodes(p))


def build_targets(statements: list[dict], samples: dict[str, list[str]]) -> list[Target]:
    """The heavy statements the advisor works on: top by total time, parseable, with
    their real samples (matched by pglast fingerprint, which ignores values)."""
    out = []
    for st in statements[: int(dbopt_settings.ADVISE_TOP_QUERIES)]:
        if st["calls"] < int(dbopt_settings.ADVISE_MIN_CALLS):
            continue
        shape = parse.analyze(st["query"])
        if shape is None or not shape.preds and not shape.order:
            continue
        try:
            fp = pglast.fingerprint(st["query"])
        except Exception:
            continue
        good = [s for s in samples.get(fp, []) if parse.has_values_only(s)]
        out.append(Target(str(st["queryid"]), st["query"], st["calls"], st["total_ms"], st["mean_ms"], shape,
                          good[: int(dbopt_settings.SAMPLES_PER_QUERY)]))
    return out


def advise(conn: psycopg.Connection, *, statements: list[dict], samples: dict[str, list[str]],
           index_rows: list[dict], hypopg: bool) -> Advice:
    advice = Advice(hypopg=hypopg)
    if not hypopg:
        advice.notes.append("hypopg is not installed in this database: index advice is unproven (no "
                            "hypothetical-index costing). Install it (CREATE EXTENSION hypopg) to prove it.")
    planner = Planner(conn, hypopg)
    catalog = Catalog(conn)
    existing = existing_from_rows(index_rows)
    targets = []
    for target in build_targets(statements, samples):
        try:
            target.cost, plans = planner.cost(target)
        except psycopg.Error as exc:
            advice.rejected.append({"query": target.query[:300], "reason": f"cannot be planned: {str(exc)[:200]}"})
            continue
        target.source = "samples" if target.samples else "generic"
        target.plans = plans
        targets.append(target)
    advice.heavy_queries = len(targets)
    chosen: dict[str, Proposal] = {}
    for target in targets:
        candidates = _candidates(target, catalog, existing, conn, advice)
        picks = _best_set(planner, target, candidates, advice) if hypopg else _unproven(target, candidates)
        for spec, cost_before, cost_after in picks:
            proposal = chosen.setdefault(spec.label, Proposal(spec, proven=hypopg))
            _credit(proposal, target, cost_after, cost_before)
    if hypopg and chosen:
        _credit_others(planner, targets, chosen)
        _drop_regressions(planner, targets, chosen, advice)
    advice.proposals = sorted(chosen.values(), key=lambda p: -p.benefit_ms)
    return advice


def _credit(proposal: Proposal, target: Target, cost_after: float | None, cost_before: float | None = None) -> None:
    """Add a query the proposal helps, weighed by the time it takes in total times the
    share of its planned cost the index saves (from `cost_before`: the query's cost with
    the proposals already picked for it in place)."""
    before = target.cost if cost_before is None else cost_before
    reduction = (1 - cost_after / before) if cost_after is not None and before else None
    proposal.queries.append({"queryid": target.queryid, "query": target.query[:500], "calls": target.calls,
                             "total_ms": round(target.total_ms, 3), "mean_ms": round(target.mean_ms, 3),
                             "cost_before": round(before, 2),
                             "cost_after": None if cost_after is None else round(cost_after, 2),
                             "reduction": None if reduction is None else round(reduction, 4),
                             "plan_source": target.source, "samples_used": len(target.samples)})
    proposal.benefit_ms += target.total_ms * (reduction if reduction is not None else 0.5)


def _table_preds(target: Target, catalog: Catalog) -> dict[tuple[str, str], list[parse.Pred]]:
    """Predicates grouped by the real (schema, table) they filter."""
    rels = {alias: catalog.resolve(*ref) for alias, ref in target.shape.relations.items()}
    rels = {a: t for a, t in rels.items() if t and t[0] not in ("pg_catalog", "information_schema")}
    grouped: dict[tuple[str, str], list[parse.Pred]] = {}
    for pred in target.shape.preds:
        table = _owner(pred.table, pred.key.column, rels, catalog)
        if table:
            grouped.setdefault(table, []).append(pred)
    for qualifier, key in target.shape.order:
        table = _owner(qualifier, key.column, rels, catalog)
        if table and len(rels) == 1:
            grouped.setdefault(table, []).append(parse.Pred(table=None, key=key, kind="order", position=-1))
    return grouped


def _owner(qualifier, column, rels, catalog) -> tuple[str, str] | None:
    if qualifier:
        return rels.get(qualifier)
    owners = [t for t in set(rels.values()) if column in catalog.columns(t)]
    return owners[0] if len(owners) == 1 else None


def _sample_values(target: Target, position: int) -> list[Any]:
    values = []
    for sample in target.samples:
        conj = parse.conjunct_values(sample)
        if conj and position < len(conj) and len(conj[position]) == 1:
            values.append(conj[position][0])
    return values


def _candidates(target: Target, catalog: Catalog, existing: list[ExistingIndex], conn, advice: Advice
                ) -> list[tuple[IndexSpec, tuple[str, str]]]:
    out: dict[str, IndexSpec] = {}
    for table, preds in _table_preds(target, catalog).items():
        eq, consts, conds, ranges, joins, orders = [], [], [], [], [], []
        values: dict[Key, list[Any]] = {}
        for p in preds:
            if p.kind == "eq":
                seen = [p.value] if p.value is not None else _sample_values(target, p.position)
                values[p.key] = seen
                if not p.key.function and _constant(p, seen, catalog.distinct(table, p.key.column)):
                    consts.append(Cond(p.key.column, "=", seen[0]))
                eq.append(p.key)
            elif p.kind in ("null", "notnull"):
                conds.append(Cond(p.key.column, "IS NULL" if p.kind == "null" else "IS NOT NULL"))
            elif p.kind == "range":
                ranges.append(p.key)
            elif p.kind == "join":
                joins.append(p.key)
            elif p.kind == "order":
                orders.append(p.key)

        def sel(key: Key) -> float:
            s = catalog.selectivity(table, key.column, values.get(key, []))
            return 1.0 if s is None else s

        eq = sorted(dict.fromkeys(eq), key=sel)
        const_cols = {c.column for c in consts}
        free_eq = [k for k in eq if k.column not in const_cols]
        tail = (ranges or orders)[:1]
        key_sets = [[k] for k in dict.fromkeys(eq + ranges + joins + orders[:1])]
        if len(eq) > 1:
            key_sets.append(eq)
        if eq and tail:
            key_sets.append(eq + tail)
        partial_where = tuple(consts + conds)
        partial_keys = [free_eq + tail, free_eq, tail, [eq[0]] if eq else []] if partial_where else []
        specs = [IndexSpec(table[0], table[1], tuple(dict.fromkeys(ks))) for ks in key_sets if ks]
        specs += [IndexSpec(table[0], table[1], tuple(dict.fromkeys(ks)), partial_where) for ks in partial_keys if ks]
        for spec in specs:
            if spec.label in out:
                continue
            if spec.label not in advice.tried:
                advice.tried.append(spec.label)
            reason = _reject_reason(spec, eq, sel, existing, conn)
            if reason:
                advice.rejected.append({"index": spec.label, "queryid": target.queryid, "reason": reason})
                continue
            out[spec.label] = spec
    return [(s, (s.schema, s.table)) for s in out.values()]


def _constant(pred: parse.Pred, seen: list[Any], distinct: float | None) -> bool:
    """A filter worth a partial index: a literal in the query, or one value in every
    sample, either across several samples or on a column of few values (a status)."""
    if pred.value is not None:
        return True
    if not seen or len(set(map(repr, seen))) != 1 or not isinstance(seen[0], (str, int, float, bool)):
        return False
    return len(seen) >= 2 or (distinct is not None and distinct <= FEW_VALUES)


FEW_VALUES = 20


def _reject_reason(spec: IndexSpec, eq: list[Key], sel, existing, conn) -> str:
    covered = covering_index(spec, existing, conn)
    if covered:
        return f"already covered by index {covered.name}"
    eq_keys = [k for k in spec.keys if k in eq]
    if eq_keys and len(eq_keys) == len(spec.keys) and not spec.where:
        combined = 1.0
        for key in eq_keys:
            combined *= sel(key)
        if combined > float(dbopt_settings.MAX_SELECTIVITY):
            return (f"too unselective: an equality on {', '.join(k.label for k in eq_keys)} matches about "
                    f"{combined:.0%} of the rows")
    return ""


MAX_INDEXES_PER_QUERY = 2


def _best_set(planner: Planner, target: Target, candidates, advice: Advice) -> list[tuple[IndexSpec, float, float]]:
    """Greedy: the best index for the query, then (a join) the best on another of its
    tables with the first in place, if it cuts the remaining cost as much again.
    Returns (spec, cost before it, cost with it)."""
    picks: list[tuple[IndexSpec, float, float]] = []
    remaining = list(candidates)
    cost_now = target.cost
    while remaining and len(picks) < MAX_INDEXES_PER_QUERY:
        best = _best(planner, target, remaining, advice, base=[p[0] for p in picks], base_cost=cost_now,
                     record=not picks)
        if best is None:
            break
        spec, cost = best
        picks.append((spec, cost_now, cost))
        cost_now = cost
        remaining = [(s, t) for s, t in remaining if t != (spec.schema, spec.table)]
    return picks


def _best(planner: Planner, target: Target, candidates, advice: Advice, *, base: list[IndexSpec] = (),
          base_cost: float | None = None, record: bool = True) -> tuple[IndexSpec, float] | None:
    """The candidate that, with `base` in place, cuts the planned cost the most (at
    least MIN_COST_REDUCTION of `base_cost`); `record` notes why the others were not."""
    base_cost = target.cost if base_cost is None else base_cost
    results = []
    for spec, _ in candidates:
        try:
            with planner.hypothetical([*base, spec]) as oids:
                cost, plans = planner.cost(target)
                own = {o for o, s in oids.items() if s is spec}
                used = bool(uses_hypothetical(plans, own))
        except psycopg.Error as exc:
            if record:
                advice.rejected.append({"index": spec.label, "queryid": target.queryid,
                                        "reason": f"hypothetical index failed: {str(exc)[:200]}"})
            continue
        reduction = 1 - cost / base_cost if base_cost else 0.0
        if not used or reduction < float(dbopt_settings.MIN_COST_REDUCTION):
            if record:
                advice.rejected.append({"index": spec.label, "queryid": target.queryid,
                                        "reason": f"cuts the planned cost by {max(reduction, 0):.0%} ({base_cost:.1f} "
                                                  f"-> {cost:.1f}){'' if used else ', unused by the plan'}"})
            continue
        results.append((reduction, spec, cost))
    if not results:
        return None
    best_cost = min(r[2] for r in results)
    # Among those whose planned cost is within 10 % of the cheapest, the simplest (fewest
    # keys, not partial): a narrower index serves more queries and costs writes less.
    # Compared on the cost after, not the share saved: 99 % and 99.9 % less differ ten-fold.
    near = [r for r in results if r[2] <= best_cost * 1.1]
    reduction, spec, cost = min(near, key=lambda r: (len(r[1].keys) + len(r[1].where), r[2]))
    return spec, cost


def _unproven(target: Target, candidates) -> list[tuple[IndexSpec, float, None]]:
    """Without hypopg: per table the plan reads sequentially, its widest candidate."""
    picks = []
    for table in dict.fromkeys(t for _, t in candidates):
        if seq_scanned(target.plans, table[1]):
            spec = max((s for s, t in candidates if t == table), key=lambda s: len(s.keys) + len(s.where))
            picks.append((spec, target.cost, None))
    return picks


def _credit_others(planner: Planner, targets: list[Target], chosen: dict[str, Proposal]) -> None:
    """A proposal also helps the other heavy queries whose plans pick it up."""
    for proposal in chosen.values():
        credited = {q["queryid"] for q in proposal.queries}
        with planner.hypothetical([proposal.spec]) as oids:
            for target in targets:
                if target.queryid in credited:
                    continue
                cost, plans = planner.cost(target)
                if uses_hypothetical(plans, set(oids)) and cost < target.cost * (1 - float(dbopt_settings.MIN_COST_REDUCTION)):
                    _credit(proposal, target, cost)


def _drop_regressions(planner: Planner, targets: list[Target], chosen: dict[str, Proposal], advice: Advice) -> None:
    """With the whole set in place, no heavy query may plan worse than now; drop the
    proposals a worse plan uses until none does."""
    limit = 1 + float(dbopt_settings.MAX_REGRESSION)
    while chosen:
        worse = None
        advice.set_check = []
        with planner.hypothetical([p.spec for p in chosen.values()]) as oids:
            for target in targets:
                cost, plans = planner.cost(target)
                advice.set_check.append({"queryid": target.queryid, "cost_before": round(target.cost, 2),
                                         "cost_with_set": round(cost, 2)})
                if cost > target.cost * limit:
                    worse = (target, cost, uses_hypothetical(plans, set(oids)), oids)
                    break
        advice.regression_checked = len(targets)
        if worse is None:
            for p in chosen.values():
                p.queries[0]["regression_checked"] = len(targets)
            return
        target, cost, used, oids = worse
        culprits = [oids[o].label for o in used] or list(chosen)[-1:]
        for label in culprits:
            chosen.pop(label, None)
            advice.rejected.append({"index": label, "queryid": target.queryid,
                                    "reason": f"makes another heavy query plan worse ({target.cost:.1f} -> {cost:.1f})"})
