{# The data's as-of date for the progress marts: the latest export date or registry change. #}
{% macro progress_as_of_date() -%}
    greatest(
        (select max(export_date) from {{ ref('mart_export_volume_daily') }}),
        (select max(status_date) from {{ ref('dim_enterprise') }})
    )
{%- endmacro %}

{# The cumulative share of a target due at elapsed share x on a trajectory curve: linear
   interpolation between the curve's two nearest points (park_target_trajectories). #}
{% macro trajectory_share(curve, x) -%}
    (select case when hi.elapsed_share = lo.elapsed_share then lo.cumulative_share
                 else lo.cumulative_share + (hi.cumulative_share - lo.cumulative_share)
                      * ({{ x }} - lo.elapsed_share) / (hi.elapsed_share - lo.elapsed_share) end
     from (select elapsed_share, cumulative_share from {{ ref('park_target_trajectories') }}
           where curve = {{ curve }} and elapsed_share <= {{ x }} order by elapsed_share desc limit 1) as lo
     cross join (select elapsed_share, cumulative_share from {{ ref('park_target_trajectories') }}
           where curve = {{ curve }} and elapsed_share >= {{ x }} order by elapsed_share limit 1) as hi)
{%- endmacro %}

{# The declaration lines that count as export volume: exactly the filter of
   mart_export_volume_daily (park enterprise in the version valid on the export date, the four
   cross-border e-commerce trade modes). Drill-downs select from this; their reconciliation tests
   prove they still agree with mart_export_volume_daily. #}
{% macro export_volume_lines() -%}
    select f.*, e.credit_code, e.enterprise_type
    from {{ ref('fct_export_declaration_lines') }} as f
    inner join {{ ref('dim_enterprise') }} as e using (enterprise_key)
    where f.trade_mode_key in ('9610', '9710', '9810', '1210')
{%- endmacro %}

{# A per-metric value from a {metric: value} mapping (a dbt var), else the default. #}
{% macro per_metric(mapping, default) -%}
    {%- if mapping -%}
    case metric {% for m, v in mapping.items() %}when '{{ m }}' then {{ v }} {% endfor %}else {{ default }} end
    {%- else -%}{{ default }}{%- endif -%}
{%- endmacro %}
