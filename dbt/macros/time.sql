{#- Timestamps: every *_at column leaves staging as a naive UTC timestamp on both targets. -#}
{% macro to_utc(column) -%}
    cast(({{ column }} at time zone 'UTC') as timestamp)
{%- endmacro %}

{#- Fractional days from start to end (both timestamps); the same expression on DuckDB and PostgreSQL. -#}
{% macro days_between(start, end) -%}
    (extract(epoch from ({{ end }} - {{ start }})) / 86400.0)
{%- endmacro %}

{% macro days_interval(days) -%}
    (interval '1 day' * {{ days }})
{%- endmacro %}

{#- The horizon var as an interval, e.g. interval '90 days'. -#}
{% macro horizon_interval() -%}
    {{ days_interval(var('horizon_days')) }}
{%- endmacro %}

{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0))
{%- endmacro %}
