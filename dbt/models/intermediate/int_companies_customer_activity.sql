-- Per company and as_of_date: how often it has raised tickets, visited, opened and answered emails and met since
-- it became a customer, over its whole customer history before as_of (no lookback limit), and over how many days
-- that history runs (from its first activity as a customer). Long-run rates say how healthy an account usually
-- is, which the 30-180-day windows estimate only noisily; activity from its prospect days is left out.
with activities as (
    select * from {{ ref('int_activities_attributed') }}
    where company_id is not null
      and activity_type in ('support_ticket', 'web_visit', 'email_opened', 'email_replied', 'meeting')
    {{- live_entities(['company_id']) }}
),
companies as (
    select * from {{ ref('stg_crm__companies') }} where customer_since is not null
    {{- live_entities(['company_id']) }}
),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

as_customer as (
    select
        a.tenant_id,
        a.company_id,
        d.as_of_date,
        a.activity_type,
        {{ days_between('a.occurred_at', 'd.as_of_at') }} as age_days
    from activities as a
    inner join companies as c
        on c.tenant_id = a.tenant_id and c.company_id = a.company_id
        and a.occurred_at >= cast(c.customer_since as timestamp)
    inner join as_of_dates as d
        on a.occurred_at < d.as_of_at
),

final as (
    select
        tenant_id,
        company_id,
        as_of_date,
        max(age_days) as customer_days_observed,
        sum(case when activity_type = 'support_ticket' then 1 else 0 end) as support_tickets_as_customer,
        sum(case when activity_type = 'web_visit' then 1 else 0 end) as web_visits_as_customer,
        sum(case when activity_type = 'email_opened' then 1 else 0 end) as emails_opened_as_customer,
        sum(case when activity_type = 'email_replied' then 1 else 0 end) as emails_replied_as_customer,
        sum(case when activity_type = 'meeting' then 1 else 0 end) as meetings_as_customer
    from as_customer
    group by tenant_id, company_id, as_of_date
)

select * from final
