{# The registry is delivered as a daily snapshot of every park enterprise, nearly always the same
   as the day before. A delivery that equals the one before it (by day folder, then load order)
   adds no enterprise version and changes none: the versions are every delivered state, the
   latest delivery of a state winning, and each of its states is already delivered, with the
   same content, by that predecessor. So only deliveries that differ can change dim_enterprise
   and the enterprise versions the facts hold.

   registry_changes() returns the rows, [credit_code, customs_code], in which a delivery loaded
   since the model's watermark differs from its predecessor (both sides of the difference; every
   row of a first delivery). Run at compile time; empty on a full refresh and on a table build,
   which compute everything anyway. #}
{% macro registry_changes() -%}
    {%- if not (execute and this is not none and is_incremental()) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set columns = 'credit_code, customs_code, enterprise_name, enterprise_type, entry_date, status, status_date' -%}
    {%- set query -%}
        -- A delivery is a registry file loaded with rows (one row a record): its batch, whose
        -- audit row names the file, so the delivery order is read per batch, not per raw row.
        with deliveries as (
            select batch_id as _batch_id, source as _source
            from {{ source('audit', 'load_batch') }}
            where feed = 'registry' and status = 'loaded' and records_loaded > 0
        ),

        new_deliveries as (
            select _source, _batch_id from deliveries
            where _batch_id in (select _batch_id from {{ source('registry', 'registry_enterprise') }}
                                where _loaded_at > {{ load_watermark() }})
        ),

        pairs as (
            select
                n._batch_id,
                (select p._batch_id from deliveries as p
                 where (p._source, p._batch_id) < (n._source, n._batch_id)
                 order by p._source desc, p._batch_id desc
                 limit 1) as previous_batch_id
            from new_deliveries as n
        ),

        delivered as (
            select p._batch_id as delivery, {{ columns }}
            from pairs as p
            inner join {{ source('registry', 'registry_enterprise') }} as r on r._batch_id = p._batch_id
        ),

        previous as (
            select p._batch_id as delivery, {{ columns }}
            from pairs as p
            inner join {{ source('registry', 'registry_enterprise') }} as r on r._batch_id = p.previous_batch_id
        ),

        differing as (
            (select * from delivered except select * from previous)
            union all
            (select * from previous except select * from delivered)
        )

        select distinct credit_code, customs_code from differing order by 1, 2
    {%- endset -%}
    {%- set rows = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do rows.append([row[0], row[1]]) -%}
    {%- endfor -%}
    {{ return(rows) }}
{%- endmacro %}

{# SQL string literals of the non-null values of one column of registry_changes(). #}
{% macro registry_change_literals(changes, index) -%}
    {%- set values = [] -%}
    {%- for change in changes if change[index] is not none -%}
        {%- do values.append("'" ~ (change[index] | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return(values | unique | list) }}
{%- endmacro %}

{# The credit codes dim_enterprise rebuilds: those a changed delivery names (none when the
   deliveries since its watermark equal their predecessors). #}
{% macro registry_changed_enterprises() -%}
    {%- set credit_codes = registry_change_literals(registry_changes(), 0) -%}
    {%- if credit_codes -%}
        select credit_code from (values ({{ credit_codes | join('), (') }})) as changed (credit_code)
    {%- else -%}
        select null::text where false
    {%- endif -%}
{%- endmacro %}

{# A filter on a model's rows (ebcCode column `column`): the customs codes whose enterprise
   versions may have moved: the ones a changed delivery names, and every customs code of the
   enterprises it names (a new or removed version renumbers the enterprise's keys). False when
   no delivery since the model's watermark changed anything. #}
{% macro registry_changed_customs_codes(column) -%}
    {%- set changes = registry_changes() -%}
    {%- if changes -%}
        {%- set customs_codes = registry_change_literals(changes, 1) -%}
        {%- set credit_codes = registry_change_literals(changes, 0) -%}
        {%- set conditions = [] -%}
        {%- if customs_codes -%}
            {%- do conditions.append(column ~ " in (" ~ (customs_codes | join(', ')) ~ ")") -%}
        {%- endif -%}
        {%- if credit_codes -%}
            {%- do conditions.append(column ~ " in (select d.customs_code from " ~ ref('dim_enterprise')
                                     ~ " as d where d.credit_code in (" ~ (credit_codes | join(', ')) ~ "))") -%}
        {%- endif -%}
        ({{ conditions | join(' or ') if conditions else 'false' }})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}
