-- Data-quality checks passed / failed / warned, per run and per day, by check system (GX
-- expectations, dbt tests), layer and severity level. A view over the audit tables, so BI sees
-- each validation the moment it is recorded (the validate task runs after the transform).
{{ config(materialized='view') }}

with gx as (
    select
        'gx' as check_system,
        r.run_key as run_id,
        r.run_at,
        r.layer,
        case when x.severity = 'critical' then 'blocking' else 'warning' end as severity_level,
        case when x.success then 'passed'
             when x.severity = 'critical' then 'failed'
             else 'warned' end as outcome,
        r.suite || ': ' || coalesce(x.check_name, x.expectation_type || coalesce('(' || x.column_name || ')', ''))
            as check_name
    from {{ source('audit', 'validation_result') }} as x
    join {{ source('audit', 'validation_run') }} as r using (validation_run_id)
),

dbt as (
    select
        'dbt' as check_system,
        n.invocation_id as run_id,
        coalesce(i.started_at, i.finished_at) as run_at,
        coalesce(n.layer, 'unknown') as layer,
        case when coalesce(n.severity, 'error') = 'error' then 'blocking' else 'warning' end as severity_level,
        case when n.status = 'pass' then 'passed'
             when n.status = 'warn' then 'warned'
             when n.status = 'skipped' then 'skipped'
             else 'failed' end as outcome,
        coalesce(n.node_name, n.unique_id) as check_name
    from {{ source('audit', 'dbt_node_result') }} as n
    join {{ source('audit', 'dbt_invocation') }} as i using (invocation_id)
    -- tests that ran (compile-only commands such as docs generate list tests without running them)
    where n.resource_type = 'test' and i.command in ('build', 'test', 'retry')
),

checks as (
    select *, (run_at at time zone 'UTC')::date as run_date from gx
    union all
    select *, (run_at at time zone 'UTC')::date as run_date from dbt
),

grains as (
    select 'run' as period_grain, run_id as period_key, min(run_at) over (partition by run_id) as run_started_at,
           checks.*
    from checks
    union all
    select 'day', run_date::text, null, checks.*
    from checks
)

select
    period_grain,
    period_key,
    min(run_date) as run_date,
    min(run_started_at) as run_started_at,
    check_system,
    layer,
    severity_level,
    count(distinct run_id) as runs,
    count(*) as checks,
    count(*) filter (where outcome = 'passed') as passed,
    count(*) filter (where outcome = 'failed') as failed,
    count(*) filter (where outcome = 'warned') as warned,
    count(*) filter (where outcome = 'skipped') as skipped,
    string_agg(distinct check_name, ' | ') filter (where outcome = 'failed') as failed_checks,
    string_agg(distinct check_name, ' | ') filter (where outcome = 'warned') as warned_checks
from grains
group by period_grain, period_key, check_system, layer, severity_level
