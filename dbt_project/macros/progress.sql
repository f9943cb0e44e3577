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

{# A per-metric value from a {metric: value} mapping (a dbt var), else the default. #}
{% macro per_metric(mapping, default) -%}
    {%- if mapping -%}
    case metric {% for m, v in mapping.items() %}when '{{ m }}' then {{ v }} {% endfor %}else {{ default }} end
    {%- else -%}{{ default }}{%- endif -%}
{%- endmacro %}
