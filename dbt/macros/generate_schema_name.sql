{#- DuckDB: plain schemas (raw, staging, intermediate, marts) in the warehouse file.
    PostgreSQL: prefixed with the target schema (warehouse_marts, ...) beside the app's own schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.type == 'duckdb' -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
