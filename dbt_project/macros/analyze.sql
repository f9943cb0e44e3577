{# Planner statistics after a model is built whole: a table, an incremental model's first build
   or a full refresh. Not after an incremental run: it changed a day's rows of a year's, and
   ANALYZE samples the whole table (autovacuum refreshes statistics as rows accumulate). Hooks
   render after the relation exists, so an incremental model's first build is told from its
   runs by the absence of statistics. Views have none to gather. #}
{% macro analyze_after_build() -%}
    {%- if model.config.materialized in ('view', 'ephemeral') -%}
        select 1
    {%- elif model.config.materialized == 'incremental' and is_incremental() -%}
        do $analyze$ begin
            if not exists (select 1 from pg_stats where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}') then
                analyze {{ this }};
            end if;
        end $analyze$
    {%- else -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
