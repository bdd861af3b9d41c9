-- Sentiment scores whose source text still exists, attributed to contact and account (same tenant).
-- "Still exists" is a semi-join per source kind (ids are UUIDs, unique across tenants): PostgreSQL hashes each
-- kind's ids once instead of probing every source for every score when a live compile narrows the scores.
with sentiment as (select * from {{ ref('stg_crm__text_sentiment') }}),
notes as (select * from {{ ref('stg_crm__notes') }}),
activities as (select * from {{ ref('stg_crm__activities') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),

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
    left join contacts as c
        on c.tenant_id = s.tenant_id and c.contact_id = s.contact_id
    where (s.source_type = 'note' and s.source_id in (select note_id from notes))
       or (s.source_type = 'activity' and s.source_id in (select activity_id from activities))
)

select * from final
