{# CEB timestamps are Beijing wall-clock time without offset: YYYYMMDDhhmmss, or with
   milliseconds (YYYYMMDDhhmmssfff) in replies. Anything else becomes null (tests catch it). #}
{% macro ceb_timestamp(column) -%}
    case
        when {{ column }} ~ '^\d{14}(\d{3})?$'
        then (
            substr({{ column }}, 1, 4) || '-' || substr({{ column }}, 5, 2) || '-' || substr({{ column }}, 7, 2)
            || ' ' || substr({{ column }}, 9, 2) || ':' || substr({{ column }}, 11, 2) || ':' || substr({{ column }}, 13, 2)
            || coalesce('.' || nullif(substr({{ column }}, 15, 3), ''), '')
        )::timestamp at time zone 'Asia/Shanghai'
    end
{%- endmacro %}

{% macro ceb_date(column) -%}
    case when {{ column }} ~ '^\d{8}$' then to_date({{ column }}, 'YYYYMMDD') end
{%- endmacro %}

{# Decimal text -> numeric, never float; non-numeric text becomes null. #}
{% macro to_numeric(column) -%}
    case when {{ column }} ~ '^-?\d+(\.\d+)?$' then {{ column }}::numeric end
{%- endmacro %}

{# A stable surrogate key from one or more columns (md5 of their text, null-safe). #}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('||', {% for c in columns %}coalesce(cast({{ c }} as text), '~null~'){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
