-- Activity volume per tenant, day and type (the dashboard's activity chart).
with activities as (select * from {{ ref('int_activities_attributed') }}),

final as (
    select
        tenant_id,
        cast(occurred_at as date) as activity_date,
        activity_type,
        count(*) as activity_count,
        count(distinct contact_id) as contacts_count,
        count(distinct company_id) as companies_count
    from activities
    group by tenant_id, cast(occurred_at as date), activity_type
)

select * from final
