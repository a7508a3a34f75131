"""KPI use cases (kpi.md): schemes, live and frozen cards, the records behind a figure,
the team board, the export and the monthly close.

Raw figures come from SQL aggregates (`raw_figures`), scoring from app.domain.kpi.
"""
from app.services.kpi.cards import (
    EXPORT_COLUMNS,
    LOOKBACK_MONTHS,
    close_period,
    engineer_card,
    engineer_history,
    export_rows,
    live_month,
    metric_records,
    streaks,
    team_board,
    visible_engineer,
)
from app.services.kpi.export import to_csv, to_xlsx
from app.services.kpi.figures import raw_figures, records_query
from app.services.kpi.schemes import (
    get_scheme,
    list_schemes,
    metric_definitions,
    schemes_in_force,
    update_scheme,
)

__all__ = [
    "EXPORT_COLUMNS", "LOOKBACK_MONTHS", "close_period", "engineer_card", "export_rows",
    "get_scheme", "raw_figures", "list_schemes", "live_month", "metric_definitions", "metric_records", "records_query",
    "schemes_in_force", "streaks", "team_board", "to_csv", "to_xlsx", "update_scheme",
    "visible_engineer",
]
