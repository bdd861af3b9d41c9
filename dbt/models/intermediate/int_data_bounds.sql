-- The span the data covers. Labels need their whole horizon inside it; current-state marts are "as of"
-- its end (the last activity date unless the data_end_date var pins it).
with activities as (select * from {{ ref('stg_crm__activities') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),

observed as (
    select
        (select min(cast(created_at as date)) from contacts) as first_contact_date,
        (select min(cast(occurred_at as date)) from activities) as first_activity_date,
        (select max(cast(occurred_at as date)) from activities) as last_activity_date
),

final as (
    select
        -- the history starts with the first activity or contact; customer_since may predate the CRM
        coalesce(least(first_activity_date, first_contact_date), current_date) as data_start_date,
        {% if var('data_end_date') %}
        cast('{{ var("data_end_date") }}' as date) as data_end_date
        {% else %}
        coalesce(last_activity_date, current_date) as data_end_date
        {% endif %}
    from observed
)

select * from final
