{# Generic test: the sum of a column equals the sum of a column in another model, to the fen.
   With count_rows=true the two models' row counts must agree too (in the same scan), so a model
   built from the other one holds exactly its rows and tests on it cover them. Fails with one row
   showing both totals (and counts) when they differ. #}
{% test sums_equal(model, column_name, compare_model, compare_column, compare_where="true", count_rows=false) %}
with a as (select coalesce(sum({{ column_name }}), 0) as total, count(*) as row_count from {{ model }}),
     b as (select coalesce(sum({{ compare_column }}), 0) as total, count(*) as row_count
           from {{ compare_model }} where {{ compare_where }})
select a.total as model_total, b.total as compare_total, a.row_count as model_rows, b.row_count as compare_rows
from a cross join b
where round(a.total, 2) <> round(b.total, 2)
{%- if count_rows %}
   or a.row_count <> b.row_count
{%- endif %}
{% endtest %}
