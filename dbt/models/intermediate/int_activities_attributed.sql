-- Activities with the account they belong to: their own company, else their contact's company
-- (matched within the same tenant).
with activities as (select * from {{ ref('stg_crm__activities') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),

final as (
    select
        a.activity_id,
        a.tenant_id,
        a.activity_type,
        a.occurred_at,
        a.contact_id,
        coalesce(a.company_id, c.company_id) as company_id,
        a.deal_id,
        a.campaign_id,
        a.page_path,
        a.amount,
        a.currency,
        (a.activity_type = 'web_visit' and a.page_path like '%pricing%') as is_pricing_visit,
        -- pages people read when they are close to buying: prices, services, proof, a way to talk
        (
            a.activity_type = 'web_visit'
            and (a.page_path like '%pricing%' or a.page_path like '%contact%' or a.page_path like '%book%'
                 or a.page_path like '%demo%' or a.page_path like '%case-stud%' or a.page_path like '%services%')
        ) as is_high_intent_visit
    from activities as a
    left join contacts as c
        on c.tenant_id = a.tenant_id and c.contact_id = a.contact_id
)

select * from final
