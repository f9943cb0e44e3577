{# CEB timestamps are Beijing wall-clock time without offset: YYYYMMDDhhmmss, or with
   milliseconds (YYYYMMDDhhmmssfff) in replies. Anything else becomes null (tests catch it).
   Digits are checked by ltrim and the text cast as ISO 8601's basic format (YYYYMMDDThhmmss):
   a regex match and a rebuilt 'YYYY-MM-DD hh:mm:ss' cost 2.7 s per million values, this 1.0 s,
   and every customs view computes one or two per row. #}
{% macro ceb_timestamp(column) -%}
    case
        when octet_length({{ column }}) in (14, 17) and {{ only_digits(column) }}
        then (
            substr({{ column }}, 1, 8) || 'T' || substr({{ column }}, 9, 6)
            || case when octet_length({{ column }}) = 17 then '.' || substr({{ column }}, 15, 3) else '' end
        )::timestamp at time zone 'Asia/Shanghai'
    end
{%- endmacro %}

{% macro ceb_date(column) -%}
    case when octet_length({{ column }}) = 8 and {{ only_digits(column) }} then to_date({{ column }}, 'YYYYMMDD') end
{%- endmacro %}

{# Whether text holds nothing but the digits 0-9 ('' too: callers check the length). Cheaper than
   a regex, which takes PostgreSQL's engine about 1 µs a match. #}
{% macro only_digits(column) -%}
    ltrim({{ column }}, '0123456789') = ''
{%- endmacro %}

{# The digits 0-9 of a code, in order (a code of digits only is returned as it is, no regex). #}
{% macro digits_of(column) -%}
    case when {{ only_digits(column) }} then {{ column }} else regexp_replace({{ column }}, '[^0-9]', '', 'g') end
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
