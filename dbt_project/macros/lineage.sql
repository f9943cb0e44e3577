{# The file or API page a raw row was loaded from. Raw rows carry only their batch id:
   audit.load_batch names each batch's source once, not on every one of its rows. A left join on
   the batch's primary key, so a view whose _source a query does not read costs nothing there
   (PostgreSQL removes the join). Select `batch.source as _source`. #}
{% macro join_batch_source(alias) -%}
left join {{ source('audit', 'load_batch') }} as batch on batch.batch_id = {{ alias }}._batch_id
{%- endmacro %}
