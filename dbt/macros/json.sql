{#- A text field of the activity properties JSON (jsonb on PostgreSQL, JSON on DuckDB). -#}
{% macro json_text(column, key) -%}
    ({{ column }} ->> '{{ key }}')
{%- endmacro %}
