"""Partner deviations a crossing works around: the ``kind`` values a translation reports, to be added
to the label set of ``ocpihub_tolerated_deviations_total`` when the bridge is wired in."""

from __future__ import annotations

LOCATION_TIME_ZONE_DEFAULT = "location_time_zone_default"
"""A 2.2 Location without the required ``time_zone``, filled from the platform's default."""

LOCATION_TIME_ZONE_MISSING = "location_time_zone_missing"
"""A 2.2 Location without ``time_zone`` and no default set: passed on without it."""

OPENING_TIMES_WITHOUT_CHOICE = "opening_times_without_choice"
"""2.1.1 ``opening_times`` with neither ``regular_hours`` nor ``twentyfourseven``: read as not 24/7."""

SESSION_EMPTY_CONNECTOR_ID = "session_empty_connector_id"
"""A 2.2 Session with ``connector_id: ""``: passed on as it is."""

COMMAND_MESSAGE_STRING = "command_message_string"
"""A 2.2 CommandResponse/CommandResult whose ``message`` is a plain string, not a DisplayText list:
wrapped as one DisplayText in English."""

CDR_END_DATE_TIME_IN_2_1_1 = "cdr_end_date_time_in_2_1_1"
"""A 2.1.1 CDR that names its end ``end_date_time`` (2.2's name) instead of ``stop_date_time``."""

TOLERATED: tuple[str, ...] = (LOCATION_TIME_ZONE_DEFAULT, LOCATION_TIME_ZONE_MISSING, OPENING_TIMES_WITHOUT_CHOICE,
                              SESSION_EMPTY_CONNECTOR_ID, COMMAND_MESSAGE_STRING, CDR_END_DATE_TIME_IN_2_1_1)
