-- Sentiment scores whose source text still exists, attributed to contact and account (same tenant).
with sentiment as (select * from {{ ref('stg_crm__text_sentiment') }}),
notes as (select * from {{ ref('stg_crm__notes') }}),
activities as (select * from {{ ref('stg_crm__activities') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),

live_sources as (
    select tenant_id, 'note' as source_type, note_id as source_id from notes
    union all
    select tenant_id, 'activity' as source_type, activity_id as source_id from activities
),

final as (
    select
        s.tenant_id,
        s.source_type,
        s.source_id,
        s.contact_id,
        coalesce(s.company_id, c.company_id) as company_id,
        s.occurred_at,
        s.sentiment_score
    from sentiment as s
    inner join live_sources as l
        on l.tenant_id = s.tenant_id and l.source_type = s.source_type and l.source_id = s.source_id
    left join contacts as c
        on c.tenant_id = s.tenant_id and c.contact_id = s.contact_id
)

select * from final
