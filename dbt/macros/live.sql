{#- Serving features "as of now": the same models as training, for one instant instead of month-ends.

    var as_of_at (ISO timestamp)  -> int_as_of_dates is that one instant (a build describes every entity then);
    var live = true (compile only) -> the instant is the bind parameter :as_of_at, and the rows each entity's
                                      features read are narrowed to the bind parameter :entity_ids
                                      (a uuid array; null = every entity of the tenant). -#}

{% macro as_of_instant() -%}
    {%- if var('live', false) -%}
        cast(:as_of_at as timestamp)
    {%- elif var('as_of_at', none) -%}
        cast('{{ var("as_of_at") }}' as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- `and (<any of columns> is one of :entity_ids)` in a live compile, nothing otherwise. Each id is a contact
    or a company (UUIDs never collide), so one list serves every entity column of a row. -#}
{% macro live_entities(columns) -%}
    {%- if var('live', false) %}
        and (cast(:entity_ids as uuid[]) is null or (
            {%- for column in columns %}{{ column }} = any(cast(:entity_ids as uuid[])){% if not loop.last %} or {% endif %}{% endfor -%}
        ))
    {%- endif -%}
{%- endmacro %}

{#- In a live compile, only the rows a touched entity's features can read of a table whose rows name a contact and a
    company (activities, text sentiment): its own (contact or company) and those of its company's contacts. Every
    feature narrows to the touched ids further down anyway; narrowing here as well lets PostgreSQL read them by
    index instead of attributing every row of the tenant first (these CTEs are shared by several features, so they
    are computed whole before any later filter). -#}
{% macro live_rows_of_entities() -%}
    {%- if var('live', false) %}
    where cast(:entity_ids as uuid[]) is null
       or company_id = any(cast(:entity_ids as uuid[]))
       or contact_id = any(cast(:entity_ids as uuid[]) || array(
           select c.id from {{ source('crm', 'contacts') }} as c where c.company_id = any(cast(:entity_ids as uuid[]))
       ))
    {%- endif -%}
{%- endmacro %}

{#- In a live compile, only the companies a touched entity's features can read: the touched companies and the
    touched contacts' own companies. -#}
{% macro live_companies_of_entities() -%}
    {%- if var('live', false) %}
    where cast(:entity_ids as uuid[]) is null
       or id = any(cast(:entity_ids as uuid[]) || array(
           select c.company_id from {{ source('crm', 'contacts') }} as c where c.id = any(cast(:entity_ids as uuid[]))
       ))
    {%- endif -%}
{%- endmacro %}
