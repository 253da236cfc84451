"""What the codes of the engine are called on a page: discrepancy codes, kinds and statuses, in the
catalogue like every other text (the codes themselves stay beside them, as the API and CSV give them)."""

from __future__ import annotations

from service.web.i18n import N_

CODES = {
    "UNKNOWN_CUSTOMER": N_("Unknown customer"),
    "NOT_CHOSEN_PROVIDER": N_("Not the customer's chosen provider"),
    "NO_ENROLMENT": N_("No enrolment"),
    "NO_REMISS": N_("No referral"),
    "DURING_PAUSE": N_("During a pause"),
    "STAFF_CATEGORY": N_("Staff category may not do this"),
    "OVERLAP": N_("Overlapping visits"),
    "DUPLICATE": N_("Duplicate"),
    "MANUAL_REGISTRATION": N_("Registered by hand"),
    "LONG_VISIT": N_("Unusually long visit"),
    "GRANTED_WITHOUT_VISITS": N_("Granted time without visits"),
    "LMG_ALREADY_PAID": N_("Already paid this year"),
    "TEAM_COUNT_CAP": N_("Over the team's count"),
    "SIP_DUPLICATE": N_("Second care-planning meeting the same day"),
    "TEAM_AMOUNT_CAP": N_("Over the team's amount"),
    "DELEGATED_CAP": N_("Delegated time over its share"),
    "EXTRAORDINARY": N_("Extraordinary claim"),
    "LOW_PERFORMED_SHARE": N_("Low share of granted time performed"),
    "BELOW_MINIMUM_SHARE": N_("Below the minimum share"),
    "DECLINED_VISITS": N_("Declined visits"),
    "NOT_IN_TARIFF": N_("Not in the tariff"),
    "LATE_DATA": N_("Data arrived late"),
}
AREA_NAMES = {  # a service area in words
    "hemtjanst": N_("home care"),
    "hemsjukvard": N_("home health care"),
    "hemrehab": N_("home rehabilitation"),
    "ovrigt": N_("other"),
}
WORDS = {
    "blocking": N_("blocking"),
    "hard": N_("hard"),
    "info": N_("info"),
    "open": N_("open"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "settled": N_("settled"),
    "prepared": N_("prepared"),
    "reconciled": N_("reconciled"),
    "approve": N_("approve"),
    "reject": N_("reject"),
}
