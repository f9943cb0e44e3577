{# Generic test: a model's column sums to exactly the same total as a column of another model
   (default: export volume in mart_export_volume_daily), per group (e.g. per month). Both sides
   are grouped by a key expression; a group missing on one side counts as zero there. Fails with
   one row per group that differs, showing both sums. Numeric sums are exact: no rounding. #}
{% test sums_reconcile_by(model, column_name, key="'all'", where="true",
                          compare_model=ref('mart_export_volume_daily'), compare_column='export_volume_cny',
                          compare_key="'all'", compare_where="true") %}
with a as (
    select {{ key }} as group_key, sum({{ column_name }}) as total from {{ model }} where {{ where }} group by 1
),
b as (
    select {{ compare_key }} as group_key, sum({{ compare_column }}) as total
    from {{ compare_model }} where {{ compare_where }} group by 1
)
select coalesce(a.group_key, b.group_key) as group_key, a.total as model_total, b.total as compare_total
from a full outer join b on a.group_key = b.group_key
where coalesce(a.total, 0) <> coalesce(b.total, 0)
{% endtest %}
