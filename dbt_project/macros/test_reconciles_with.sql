{# Generic test: the sum of a column equals the sum of a column in another model, to the fen.
   Fails with one row showing both totals when they differ. #}
{% test sums_equal(model, column_name, compare_model, compare_column, compare_where="true") %}
with a as (select coalesce(sum({{ column_name }}), 0) as total from {{ model }}),
     b as (select coalesce(sum({{ compare_column }}), 0) as total from {{ compare_model }} where {{ compare_where }})
select a.total as model_total, b.total as compare_total
from a cross join b
where round(a.total, 2) <> round(b.total, 2)
{% endtest %}
