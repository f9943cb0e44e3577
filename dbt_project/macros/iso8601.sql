{# Partner APIs and CSVs (payments, tracking) write ISO 8601, not CEB's YYYYMMDDhhmmss. #}

{# An ISO 8601 instant -> timestamptz. Only text carrying its own offset (Z or +hh:mm) is cast:
   a bare local time has no zone we could trust, so it becomes null (not_null tests catch it). #}
{% macro iso_timestamptz(column) -%}
    case
        when {{ column }} ~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)$'
        then {{ column }}::timestamptz
    end
{%- endmacro %}

{% macro iso_date(column) -%}
    case when {{ column }} ~ '^\d{4}-\d{2}-\d{2}$' then {{ column }}::date end
{%- endmacro %}
