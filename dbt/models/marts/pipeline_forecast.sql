-- Forecast: open deals by expected close month, at face value and weighted by stage probability.
with deals as (select * from {{ ref('deals') }}),

final as (
    select
        tenant_id,
        cast(date_trunc('month', cast(coalesce(expected_close_date, cast(created_at as date)) as timestamp))
            as date) as close_month,
        count(*) as open_deals,
        sum(amount) as open_amount,
        sum(weighted_amount) as weighted_amount
    from deals
    where is_open
    group by 1, 2
)

select * from final
