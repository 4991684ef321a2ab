"""dbopt's writes: collect, judge and advise, and the audited actions. Admin, API,
commands and tasks call these and nothing else."""
from .actions import (  # noqa: F401
    ACTIONS,
    ActionResult,
    act_on_finding,
    analyze_table,
    build_index,
    drop_index,
    explain_query,
    reindex_index,
    run_maintenance,
    vacuum_table,
)
from .advice import RefreshResult, recommend, refresh_findings, samples_for  # noqa: F401
from .collection import CollectResult, collect_all, collect_database, prune_snapshots, record_sample  # noqa: F401
from .databases import add_database, ensure_databases, get_database  # noqa: F401
