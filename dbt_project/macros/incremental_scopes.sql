{# The keys each incremental model rebuilds: what raw loads since the model's watermark touched.
   Each model computes its own scope from raw and its own watermark, so a model never depends on
   whether an upstream incremental model ran. #}

{% macro loaded_since_watermark(relation) -%}
    {{ relation }}._loaded_at > {{ load_watermark() }}
{%- endmacro %}

{# Export dates re-valued by central parity rates loaded since the watermark (late FX). #}
{% macro fx_revalued_since_watermark() -%}
    (select min(case when fx.rate_date ~ '^\d{4}-\d{2}-\d{2}$' then fx.rate_date::date end)
     from {{ source('reference', 'fx_central_parity') }} as fx
     where {{ loaded_since_watermark('fx') }})
{%- endmacro %}

{# Rows of this model whose stored enterprise version no longer covers their date (a registry
   change dated into the past), or that had no park enterprise and now have one. Only rows of the
   customs codes a changed registry delivery names can be (registry_changes): with no change
   since the model's watermark, the check is skipped rather than joining the whole model to
   dim_enterprise. For a model of aggregates, `last_date_column` is the latest date a row covers. #}
{% macro stale_enterprise_versions(key_column, date_column, last_date_column=none) -%}
    {%- set changed = registry_changed_customs_codes('f.ebc_code') -%}
    {%- if changed == 'false' -%}
    select f.{{ key_column }} from {{ this }} as f where false
    {%- else -%}
    select f.{{ key_column }}
    from {{ this }} as f
    left join {{ ref('dim_enterprise') }} as e on e.enterprise_key = f.enterprise_key
    where {{ changed }}
      and ((f.enterprise_key is not null
            and (e.enterprise_key is null or f.{{ date_column }} < e.valid_from
                 or (e.valid_to is not null and f.{{ last_date_column or date_column }} >= e.valid_to)))
           or (f.enterprise_key is null
               and exists (select 1 from {{ ref('dim_enterprise') }} as d where d.customs_code = f.ebc_code)))
    {%- endif -%}
{%- endmacro %}

{% macro inventory_release_scope() -%}
    select r.guid from {{ source('customs', 'ceb_inventory_return') }} as r where {{ loaded_since_watermark('r') }}
{%- endmacro %}

{# Inventory lists whose document or customs replies loaded since the watermark. #}
{% macro inventory_list_changes() -%}
    select h.guid from {{ source('customs', 'ceb_inventory_head') }} as h where {{ loaded_since_watermark('h') }}
    union all
    {{ inventory_release_scope() }}
{%- endmacro %}

{% macro declaration_line_scope() -%}
    {{ inventory_list_changes() }}
    union all
    -- raw ieDate text (YYYYMMDD sorts as the date; a malformed one only widens the scope): an
    -- index range, where the staging view's export_date would resolve every list's version
    select h.guid from {{ source('customs', 'ceb_inventory_head') }} as h
    where h.ie_date >= to_char({{ fx_revalued_since_watermark() }}, 'YYYYMMDD')
    union all
    {{ stale_enterprise_versions('inventory_guid', 'export_date') }}
{%- endmacro %}

{% macro export_order_scope() -%}
    select o.guid from {{ source('customs', 'ceb_order_head') }} as o where {{ loaded_since_watermark('o') }}
    union all
    -- raw appTime text, Beijing time YYYYMMDDhhmmss (the order date's wall clock): as above
    select o.guid from {{ source('customs', 'ceb_order_head') }} as o
    where o.app_time >= to_char({{ fx_revalued_since_watermark() }}, 'YYYYMMDD')
    union all
    {{ stale_enterprise_versions('order_guid', 'order_date') }}
{%- endmacro %}

{# Match groups: an order's platform + order number; an unmatched waybill's carrier + number. #}
{% macro order_match_group(ebp_code, order_no) -%}
    ({{ ebp_code }} || '|' || {{ order_no }})
{%- endmacro %}

{% macro waybill_match_group(logistics_code, logistics_no) -%}
    ('waybill|' || {{ logistics_code }} || '|' || {{ logistics_no }})
{%- endmacro %}

{# A relation restricted to the staged match groups of one kind ('order': platform + order
   number; 'waybill': carrier + number), looked up group by group on those columns (raw indexes
   on them), with the OFFSET 0 fence of scoped_relation. On a full refresh, the relation itself. #}
{% macro scoped_by_match_group(relation, kind) -%}
    {%- if this is not none and is_incremental() -%}
        {%- set prefix = 'waybill|' if kind == 'waybill' else '' -%}
        {%- set columns = ['logistics_code', 'logistics_no'] if kind == 'waybill' else ['ebp_code', 'order_no'] -%}
        (select scoped.*
         from (select split_part(rest, '|', 1) as first_part, substr(rest, strpos(rest, '|') + 1) as second_part
               from (select substr(scope_key, {{ prefix | length + 1 }}) as rest from {{ scope_table() }}
                     where {% if prefix %}scope_key like '{{ prefix }}%'{% else %}scope_key not like 'waybill|%'{% endif %}) as keys
              ) as scope
         cross join lateral (
             select * from {{ relation }} as keyed
             where keyed.{{ columns[0] }} = scope.first_part and keyed.{{ columns[1] }} = scope.second_part
             offset 0
         ) as scoped)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro document_match_scope(with_stale_enterprises=false) -%}
    select {{ order_match_group('o.ebp_code', 'o.order_no') }}
    from {{ source('customs', 'ceb_order_head') }} as o where {{ loaded_since_watermark('o') }}
    union all
    select {{ order_match_group('r.ebp_code', 'r.order_no') }}
    from {{ source('customs', 'ceb_receipts') }} as r where {{ loaded_since_watermark('r') }}
    union all
    -- a new list touches its order's group and can claim an orphan waybill of its number
    select g.match_group
    from {{ source('customs', 'ceb_inventory_head') }} as h
    cross join lateral (values ({{ order_match_group('h.ebp_code', 'h.order_no') }}),
                               ({{ waybill_match_group('h.logistics_code', 'h.logistics_no') }})) as g (match_group)
    where {{ loaded_since_watermark('h') }}
    union all
    select {{ order_match_group('h.ebp_code', 'h.order_no') }}
    from {{ source('customs', 'ceb_inventory_return') }} as r
    inner join {{ source('customs', 'ceb_inventory_head') }} as h on h.guid = r.guid
    where {{ loaded_since_watermark('r') }}
    union all
    select {{ waybill_match_group('w.logistics_code', 'w.logistics_no') }}
    from {{ source('customs', 'ceb_logistics') }} as w where {{ loaded_since_watermark('w') }}
    union all
    select {{ order_match_group('h.ebp_code', 'h.order_no') }}
    from {{ source('customs', 'ceb_logistics') }} as w
    inner join {{ source('customs', 'ceb_inventory_head') }} as h
        on h.logistics_no = w.logistics_no and h.logistics_code = w.logistics_code
    where {{ loaded_since_watermark('w') }}
    {%- if with_stale_enterprises %}
    union all
    select f.match_group from ({{ stale_enterprise_versions('match_group', 'order_date') }}) as f (match_group)
    {%- endif %}
{%- endmacro %}

{# Released lists whose master bill (CEB607) or carrier tracking loaded since the watermark.
   A consignment's transport events carry no logistics number: the parcels that travelled in it
   are those its journeys in int_parcel_tracking_milestones name (a parcel whose events load
   with the consignment's is in the branch before). #}
{% macro shipment_movement_changes() -%}
    select h.guid
    from {{ source('customs', 'ceb_way_bill_list') }} as b
    inner join {{ source('customs', 'ceb_inventory_head') }} as h on h.logistics_no = b.logistics_no
    where {{ loaded_since_watermark('b') }}
    union all
    select h.guid
    from {{ source('logistics', 'tracking_event') }} as t
    inner join {{ source('customs', 'ceb_inventory_head') }} as h on h.logistics_no = t.logistics_no
    where {{ loaded_since_watermark('t') }}
    union all
    select h.guid
    from {{ ref('int_parcel_tracking_milestones') }} as j
    inner join {{ source('customs', 'ceb_inventory_head') }} as h on h.logistics_no = j.logistics_no
    where j.consignment_no in ({{ transport_event_changes() }})
{%- endmacro %}

{# Consignments with a transport event (a departure, an arrival) loaded since the watermark. #}
{% macro transport_event_changes() -%}
    select t.consignment_no from {{ source('logistics', 'tracking_event') }} as t
    where {{ loaded_since_watermark('t') }} and lower(t.event_kind) = 'transport'
{%- endmacro %}

{% macro parcel_shipment_scope() -%}
    {{ inventory_list_changes() }}
    union all
    {{ shipment_movement_changes() }}
    union all
    {{ stale_enterprise_versions('inventory_guid', 'export_date') }}
{%- endmacro %}

{# int_corridor_shipments: what changes a list's declaration lines or its parcel shipment. #}
{% macro corridor_shipment_scope() -%}
    {{ declaration_line_scope() }}
    union all
    {{ shipment_movement_changes() }}
{%- endmacro %}

{# Export dates whose declaration lines may have changed since the watermark: every version's
   ieDate of the lists whose document or customs replies loaded (a correction or deletion also
   changes the day the list left from), the export dates on and after a late parity, and the
   dates of rows whose enterprise version moved (`this` holds ebc_code, enterprise_key and the
   first / last export date of each row). For the aggregates of fct_export_declaration_lines. #}
{% macro export_date_changes(first_date_column='export_date', last_date_column='export_date', key_column='export_date') -%}
    select {{ ceb_date('v.ie_date') }}
    from {{ source('customs', 'ceb_inventory_head') }} as v
    where v.guid in ({{ inventory_list_changes() }})
    union all
    select f.export_date from {{ ref('fct_export_declaration_lines') }} as f
    where f.export_date >= {{ fx_revalued_since_watermark() }}
    union all
    select {{ key_column }} from ({{ stale_enterprise_versions(key_column, first_date_column, last_date_column) }}) as stale
{%- endmacro %}

{# The months of those dates, for a model of monthly aggregates (month_start, first_export_date,
   last_export_date). #}
{% macro export_month_changes() -%}
    select date_trunc('month', changed.export_date)::date
    from ({{ export_date_changes('first_export_date', 'last_export_date', 'month_start') }}) as changed (export_date)
{%- endmacro %}

{# Inventory lists whose document loaded since the watermark (lines come with their head). #}
{% macro inventory_document_changes() -%}
    select h.guid from {{ source('customs', 'ceb_inventory_head') }} as h where {{ loaded_since_watermark('h') }}
{%- endmacro %}

{# Orders (CEB303) whose document loaded since the watermark. #}
{% macro order_document_changes() -%}
    select o.guid from {{ source('customs', 'ceb_order_head') }} as o where {{ loaded_since_watermark('o') }}
{%- endmacro %}

{# Post-hook: an index on the columns unless the table has one (a full refresh builds a new
   table while the old one, renamed, still holds the index's name until it is dropped). #}
{% macro ensure_index(column) -%}
    do $ensure_index$ begin
        if not exists (
            select 1 from pg_index as i
            inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
            where i.indrelid = '{{ this }}'::regclass and i.indnatts = 1 and a.attname = '{{ column }}'
        ) then
            create index on {{ this }} ({{ column }});
        end if;
    end $ensure_index$
{%- endmacro %}
