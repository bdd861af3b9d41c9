-- Per campaign: reach, engagement of its activities, members who went on to win a deal, and return.
with campaigns as (select * from {{ ref('stg_crm__campaigns') }}),
members as (select * from {{ ref('stg_crm__campaign_members') }}),
activities as (select * from {{ ref('int_activities_attributed') }}),
deals as (select * from {{ ref('stg_crm__deals') }}),

reach as (
    select tenant_id, campaign_id, count(*) as members_count
    from members group by tenant_id, campaign_id
),

engagement as (
    select
        tenant_id,
        campaign_id,
        count(*) as touches,
        sum(case when activity_type = 'email_sent' then 1 else 0 end) as emails_sent,
        sum(case when activity_type = 'email_opened' then 1 else 0 end) as emails_opened,
        sum(case when activity_type = 'email_clicked' then 1 else 0 end) as emails_clicked,
        sum(case when activity_type = 'email_replied' then 1 else 0 end) as emails_replied,
        sum(case when activity_type = 'form_submit' then 1 else 0 end) as form_submits
    from activities
    where campaign_id is not null
    group by tenant_id, campaign_id
),

-- A member converts when a deal naming them is won after they joined the campaign.
conversions as (
    select
        m.tenant_id,
        m.campaign_id,
        count(distinct m.contact_id) as converted_members,
        sum(d.amount) as won_amount
    from members as m
    inner join deals as d
        on d.tenant_id = m.tenant_id and d.contact_id = m.contact_id
        and d.deal_status = 'won' and d.closed_at >= m.added_at
    group by m.tenant_id, m.campaign_id
),

final as (
    select
        c.tenant_id,
        c.campaign_id,
        c.campaign_name,
        c.channel,
        c.campaign_status,
        c.starts_on,
        c.ends_on,
        c.budget,
        coalesce(r.members_count, 0) as members_count,
        coalesce(e.touches, 0) as touches,
        coalesce(e.emails_sent, 0) as emails_sent,
        coalesce(e.emails_opened, 0) as emails_opened,
        coalesce(e.emails_clicked, 0) as emails_clicked,
        coalesce(e.emails_replied, 0) as emails_replied,
        coalesce(e.form_submits, 0) as form_submits,
        {{ ratio('e.emails_opened', 'e.emails_sent') }} as open_rate,
        {{ ratio('e.emails_clicked', 'e.emails_sent') }} as click_rate,
        coalesce(v.converted_members, 0) as converted_members,
        {{ ratio('v.converted_members', 'r.members_count') }} as conversion_rate,
        coalesce(v.won_amount, 0) as won_amount,
        {{ ratio('c.budget', 'r.members_count') }} as cost_per_member,
        {{ ratio('coalesce(v.won_amount, 0) - c.budget', 'c.budget') }} as return_on_budget
    from campaigns as c
    left join reach as r on r.tenant_id = c.tenant_id and r.campaign_id = c.campaign_id
    left join engagement as e on e.tenant_id = c.tenant_id and e.campaign_id = c.campaign_id
    left join conversions as v on v.tenant_id = c.tenant_id and v.campaign_id = c.campaign_id
)

select * from final
