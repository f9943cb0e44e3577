{# Incremental models here rebuild whole keys (an inventory list, an order, a match group):
   a pre-hook stages the keys touched since the model's load watermark into a temporary
   table, deletes their rows, and the model's SQL recomputes exactly those keys. Deleting
   first is what makes appType=3 deletions and shrinking documents disappear, which a plain
   merge on a unique key would keep. A full refresh computes every key and gives the same rows. #}

{# The latest raw load the model has seen (max _loaded_at of its rows) minus a lookback that
   covers loads still committing while the previous run read. A literal, so the planner
   estimates the changed-key scans from statistics rather than guessing. #}
{% macro load_watermark(column='_loaded_at', lookback=none) -%}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set result = run_query(
            "select to_char(coalesce(max(" ~ column ~ "), timestamptz '1900-01-01') - interval '"
            ~ (lookback or var('incremental_lookback')) ~ "', 'YYYY-MM-DD\"T\"HH24:MI:SS.US TZH:TZM') from " ~ this) -%}
        timestamptz '{{ result.columns[0].values()[0] }}'
    {%- else -%}
        timestamptz '1900-01-01'
    {%- endif -%}
{%- endmacro %}

{% macro scope_table() -%}
    {{ this.identifier }}__scope
{%- endmacro %}

{# Pre-hook: stage the keys to rebuild and delete their current rows. #}
{% macro stage_incremental_scope(key_column, keys_sql) -%}
    {%- if this is not none and is_incremental() -%}
        create temporary table {{ scope_table() }} on commit drop as
        select distinct scope_key from ({{ keys_sql }}) as changed (scope_key) where scope_key is not null;
        analyze {{ scope_table() }};
        delete from {{ this }} where {{ key_column }} in (select scope_key from {{ scope_table() }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{# A filter on the model's inputs: only the staged keys (nothing on a full refresh). #}
{% macro in_incremental_scope(expression) -%}
    {%- if this is not none and is_incremental() -%}
        {{ expression }} in (select scope_key from {{ scope_table() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# A relation restricted to the staged keys, fetched key by key: the OFFSET 0 fence keeps each
   lookup a restriction on the key (index scans down to raw), whatever the planner estimates
   for the joins inside the relation. On a full refresh, the relation itself. #}
{% macro scoped_relation(relation, key_column) -%}
    {%- if this is not none and is_incremental() -%}
        (select scoped.* from {{ scope_table() }} as scope
         cross join lateral (
             select * from {{ relation }} as keyed where keyed.{{ key_column }} = scope.scope_key offset 0
         ) as scoped)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{# Planner settings for an incremental run's query over a scope of a few keys: the planner
   cannot estimate how many rows a scope selects (it guesses a handful), and picks nested loops
   that run a thousand times longer once a month of rows comes through; sorts and hashes of that
   month fit in memory. Transaction-local, set after the scope is staged (whose key lookups do
   want nested loops). Nothing on a full build. #}
{% macro incremental_plan_settings() -%}
    {%- if this is not none and is_incremental() -%}
        set local enable_nestloop = off;
        set local work_mem = '64MB'
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{# Planner settings for the full build of a model over a whole history of customs documents.
   Joins of raw lines to the winning versions of their heads (three correlated columns) are
   estimated at a row or two, so the planner nests loops over a month of lines; and the sorts and
   hashes of a month's documents (a million rows each) spill to disk at the server's default
   work_mem (4MB). Only the models whose full refresh these settings were measured to speed up use
   them (docs/scaling.md, sessions 27 and 30). sequential_scan: read whole tables in one pass,
   never in an index's order (the tracking events: the planner walked the event_id index, which
   reads the heap at random). Transaction-local; nothing on an incremental run, whose scoped
   lookups want nested loops and indexes (incremental_plan_settings sets its own). #}
{% macro full_build_plan_settings(sequential_scan=false) -%}
    {%- if this is not none and is_incremental() -%}
        select 1
    {%- else -%}
        set local enable_nestloop = off;
        set local work_mem = '64MB'
        {%- if sequential_scan %};
        set local enable_indexscan = off;
        set local enable_bitmapscan = off
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
