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

{# A CEB decimal or integer field (xs:decimal or xs:int in the XSD) as numeric, never float. The
   loader loads no document the XSD rejects, and PostgreSQL casts every xs:decimal spelling
   (surrounding whitespace, a leading +, "1." or ".5"), so the text is cast as it is: a regex per
   value, as to_numeric does, cost about 0.4 µs each, over every line of every model and check
   reading a customs view. #}
{% macro ceb_decimal(column) -%}
    ({{ column }})::numeric
{%- endmacro %}

{# Decimal text -> numeric, never float; non-numeric text becomes null. #}
{% macro to_numeric(column) -%}
    case when {{ column }} ~ '^-?\d+(\.\d+)?$' then {{ column }}::numeric end
{%- endmacro %}

{# A stable surrogate key from one or more columns (md5 of their text, null-safe). #}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('||', {% for c in columns %}coalesce(cast({{ c }} as text), '~null~'){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{# The latest version of a document: no other row with the same key sorts after it (by the
   given columns, e.g. appTime then load order). An anti-join rather than DISTINCT ON, so the
   planner can flatten the staging view and push a key filter (incremental runs) into it. #}
{% macro is_latest_version(alias, relation, key='guid', order_by=['app_time', '_batch_id', '_record_no']) -%}
    {%- set cols = [] -%}
    {%- for c in order_by -%}
        {#- lineage columns are never null; delivered text may be -#}
        {%- do cols.append(c if c.startswith('_') else "coalesce(" ~ '{t}.' ~ c ~ ", '')") -%}
    {%- endfor -%}
    not exists (
        select 1 from {{ relation }} as newer
        where newer.{{ key }} = {{ alias }}.{{ key }}
          and ({% for c in cols %}{{ c | replace('{t}.', 'newer.') if not c.startswith('_') else 'newer.' ~ c }}{% if not loop.last %}, {% endif %}{% endfor %})
            > ({% for c in cols %}{{ c | replace('{t}.', alias ~ '.') if not c.startswith('_') else alias ~ '.' ~ c }}{% if not loop.last %}, {% endif %}{% endfor %})
    )
{%- endmacro %}

{# Personal or contact data never leaves staging in clear: an unsalted sha256 hex digest
   (still joinable across tables; the clear value stays in raw, which BI users cannot read). #}
{% macro hash_pii(column) -%}
    case when nullif(trim({{ column }}), '') is not null then encode(sha256(convert_to(trim({{ column }}), 'UTF8')), 'hex') end
{%- endmacro %}
