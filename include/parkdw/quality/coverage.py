"""Defect coverage: each defect the sandbox injected (its manifest) against where the warehouse
caught it, counted item by item from the warehouse itself.

A defect is *caught* at the layer that deals with it: rejected into quarantine (ingest), read
correctly despite it (ingest: encodings), or resolved by design in staging (resends deduplicated,
corrections and deletions applied, currency spellings mapped, out-of-order replies ranked,
orphans and reused numbers kept apart in the document match) or flagged by a GX check. Each class has one check per item,
run against the warehouse's tables. An item is *out of scope* when its document or file was not
delivered within what was loaded (a file landing after the last day ingested) or another defect
removed it first; otherwise it is caught or *missed*. A class no layer handles says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from parkdw.sandbox.generate import load_defects
from parkdw.settings import SCHEMA_AUDIT, SCHEMA_RAW, SCHEMA_STAGING

log = logging.getLogger(__name__)

A, R, S = SCHEMA_AUDIT, SCHEMA_RAW, SCHEMA_STAGING


@dataclass(frozen=True)
class DefectCheck:
    key: str  # the manifest field identifying an item (guid, file, order_no...)
    layer: str  # where the warehouse deals with it; "not caught" when nowhere
    how: str
    # SQL over unnest(%(keys)s) as k(key) returning (key, delivered, caught) per key.
    sql: str


_RAW_HEAD = f"exists (select 1 from {R}.ceb_inventory_head h where h.guid = k.key)"
_QUARANTINED = f"exists (select 1 from {A}.quarantine q where q.record_key = k.key)"
_FILE_BATCH = f"exists (select 1 from {A}.load_batch b where b.source like '%%/' || k.key)"
_FILE_LOADED = f"""select k.key, {_FILE_BATCH},
                          exists (select 1 from {A}.load_batch b where b.source like '%%/' || k.key
                                  and b.status = 'loaded' and b.records_loaded > 0)
                   from unnest(%(keys)s::text[]) as k(key)"""

CHECKS: dict[str, DefectCheck] = {
    "bad_hs_code": DefectCheck(
        "guid", "ingest: quarantine", "XSD check of gcode (10 digits, present): record quarantined, rule xsd",
        f"""select k.key, {_QUARANTINED} or {_RAW_HEAD},
                   exists (select 1 from {A}.quarantine q where q.record_key = k.key and q.rule = 'xsd')
            from unnest(%(keys)s::text[]) as k(key)"""),
    "nonpositive_amount": DefectCheck(
        "guid", "ingest: quarantine", "business rule: totalPrice must be positive (rule positive_amount)",
        f"""select k.key, {_QUARANTINED} or {_RAW_HEAD},
                   exists (select 1 from {A}.quarantine q where q.record_key = k.key and q.rule = 'positive_amount')
            from unnest(%(keys)s::text[]) as k(key)"""),
    "malformed_file": DefectCheck(
        "file", "ingest: quarantine", "the whole file quarantined (not well-formed / wrong namespace); "
        "the partner's intact resend loaded",
        f"""select k.key, {_FILE_BATCH},
                   exists (select 1 from {A}.quarantine q where q.source like '%%/' || k.key and q.record_no is null)
            from unnest(%(keys)s::text[]) as k(key)"""),
    "gbk_file": DefectCheck(
        "file", "ingest: reader", "GBK detected (declared or not) and decoded; every record loaded",
        _FILE_LOADED),
    "bom_file": DefectCheck(
        "file", "ingest: reader", "byte-order mark skipped; every record loaded",
        _FILE_LOADED),
    "late_file": DefectCheck(
        "guid", "ingest: loaded on arrival", "loaded from the later day's folder it arrived in (exactly once); "
        "incremental models pick it up by load time",
        f"""select k.key,
                   exists (select 1 from {A}.load_batch b where b.source like '%%/customs/' || k.delivery_day || '/%%'),
                   exists (select 1 from {R}.ceb_inventory_head h join {A}.load_batch hb on hb.batch_id = h._batch_id
                           where h.guid = k.key and hb.source like '%%/customs/' || k.delivery_day || '/%%')
                   or exists (select 1 from {A}.quarantine q where q.record_key = k.key
                              and q.source like '%%/customs/' || k.delivery_day || '/%%')
            from unnest(%(keys)s::text[], %(delivery_days)s::text[]) as k(key, delivery_day)"""),
    "resend": DefectCheck(
        "guid", "staging: dedupe", "stg_customs__inventory_heads keeps one row per guid",
        f"""select k.key, (select count(*) from {R}.ceb_inventory_head h where h.guid = k.key) >= 2,
                   (select count(*) from {S}.stg_customs__inventory_heads s where s.inventory_guid = k.key) = 1
            from unnest(%(keys)s::text[]) as k(key)"""),
    "correction": DefectCheck(
        "guid", "staging: version resolution", "the appType=2 version wins (latest appTime, then load order)",
        f"""select k.key, exists (select 1 from {R}.ceb_inventory_head h where h.guid = k.key and h.app_type = '2'),
                   exists (select 1 from {S}.stg_customs__inventory_heads s where s.inventory_guid = k.key
                           and s.app_type = '2')
            from unnest(%(keys)s::text[]) as k(key)"""),
    "deletion": DefectCheck(
        "guid", "staging: version resolution", "a latest appType=3 version removes the list",
        f"""select k.key, exists (select 1 from {R}.ceb_inventory_head h where h.guid = k.key and h.app_type = '3'),
                   not exists (select 1 from {S}.stg_customs__inventory_heads s where s.inventory_guid = k.key)
            from unnest(%(keys)s::text[]) as k(key)"""),
    "currency_variant": DefectCheck(
        "guid", "staging: code mapping", "int_currency_codes maps 'CNY' and '156' to the customs code 142 (CNY)",
        f"""select k.key, count(l.inventory_guid) > 0, coalesce(bool_and(c.currency_iso = 'CNY'), false)
            from unnest(%(keys)s::text[]) as k(key)
            left join {S}.stg_customs__inventory_lines l on l.inventory_guid = k.key
            left join {S}.int_currency_codes c on c.delivered_code = l.currency_code
            group by k.key"""),
    "reply_out_of_order": DefectCheck(
        "guid", "staging: release outcome", "int_inventory_release ranks the final outcome above a late "
        "'stored' (120) reply: the list stays released",
        f"""select k.key, exists (select 1 from {R}.ceb_inventory_return r where r.guid = k.key
                                   and r.return_status = '120'),
                   exists (select 1 from {S}.int_inventory_release x where x.inventory_guid = k.key
                           and x.latest_status in ('800', '899') and x.had_out_of_order_reply)
            from unnest(%(keys)s::text[]) as k(key)"""),
    "orphan_receipt": DefectCheck(
        "order_no", "staging: document match", "kept as its own row: mismatch 'orphan receipt: no order'",
        f"""select k.key, exists (select 1 from {R}.ceb_receipts r where r.order_no = k.key),
                   exists (select 1 from {S}.int_document_match m where m.order_no = k.key
                           and m.mismatch_reason = 'orphan receipt: no order')
            from unnest(%(keys)s::text[]) as k(key)"""),
    "orphan_waybill": DefectCheck(
        "logistics_no", "staging: document match", "kept as its own row: mismatch 'orphan waybill: no inventory list'",
        f"""select k.key, exists (select 1 from {R}.ceb_logistics w where w.logistics_no = k.key),
                   exists (select 1 from {S}.int_document_match m join {R}.ceb_logistics w on w.guid = m.waybill_guid
                           where w.logistics_no = k.key and m.mismatch_reason = 'orphan waybill: no inventory list')
            from unnest(%(keys)s::text[]) as k(key)"""),
    "order_no_reuse": DefectCheck(
        "order_no", "staging: business key", "orders keyed by platform and number: two orders, two match groups",
        f"""select k.key, (select count(distinct o.ebp_code) from {R}.ceb_order_head o where o.order_no = k.key) >= 2,
                   (select count(distinct s.ebp_code) from {S}.stg_customs__orders s where s.order_no = k.key) >= 2
            from unnest(%(keys)s::text[]) as k(key)"""),
    "logistics_no_reuse": DefectCheck(
        "logistics_no", "staging: document match", "the waybill declared nearest in time (within 30 days) is "
        "matched; the earlier use lies months before, outside the window",
        f"""select k.key, exists (select 1 from {S}.stg_customs__inventory_heads h where h.logistics_no = k.key),
                   exists (select 1 from {S}.stg_customs__inventory_heads h
                           join {S}.int_document_match m on m.inventory_guid = h.inventory_guid
                           where h.logistics_no = k.key and m.has_waybill)
            from unnest(%(keys)s::text[]) as k(key)"""),
    "wrong_timezone": DefectCheck(
        "guid", "GX check (warning)", "appTime written in UTC reads 8 hours early, before its own order: named "
        "among the unexpected values of the raw suite's app_time_before_order (a sample of up to 20 per batch)",
        f"""select k.key, exists (select 1 from {R}.ceb_inventory_head h where h.guid = k.key),
                   exists (select 1 from {A}.validation_result x where x.check_name = 'app_time_before_order'
                           and x.unexpected_sample @> jsonb_build_array(jsonb_build_object('guid', k.key)))
            from unnest(%(keys)s::text[]) as k(key)"""),
}


@dataclass
class ClassCoverage:
    defect: str
    layer: str
    how: str
    injected: int
    delivered: int = 0  # in scope: delivered within what was loaded
    caught: int = 0
    missed_examples: list[str] = field(default_factory=list)

    @property
    def out_of_scope(self) -> int:
        return self.injected - self.delivered

    @property
    def missed(self) -> int:
        return self.delivered - self.caught

    @property
    def status(self) -> str:
        if self.delivered == 0:
            return "not delivered yet"
        return "caught" if self.caught == self.delivered else ("not caught" if self.caught == 0 else "partly caught")


def defect_coverage(conn, landing: Path) -> list[ClassCoverage]:
    """Every defect class in the landing folder's manifest, with its items caught / missed / out of scope."""
    items = load_defects(Path(landing))
    by_class: dict[str, list[dict]] = {}
    for item in items:
        by_class.setdefault(item["defect"], []).append(item)
    coverage = []
    for defect, group in sorted(by_class.items()):
        check = CHECKS.get(defect)
        if check is None:  # a class the sandbox learned after this module: shown, never hidden
            coverage.append(ClassCoverage(defect, "unknown", "no coverage check for this class", len(group)))
            continue
        keys = [str(item.get(check.key)) for item in group]
        params = {"keys": keys, "delivery_days": [str(item.get("delivery_day")) for item in group]}
        rows = conn.execute(check.sql, params).fetchall()
        found = {key: (bool(delivered), bool(caught)) for key, delivered, caught in rows}
        entry = ClassCoverage(defect, check.layer, check.how, len(group))
        for key in keys:  # per item (a key can repeat: count each injection)
            delivered, caught = found.get(key, (False, False))
            entry.delivered += delivered
            entry.caught += delivered and caught
            if delivered and not caught and len(entry.missed_examples) < 5:
                entry.missed_examples.append(key)
        coverage.append(entry)
    conn.commit()
    log.info("defect coverage: %d classes, %d of %d delivered items caught", len(coverage),
             sum(c.caught for c in coverage), sum(c.delivered for c in coverage))
    return coverage
