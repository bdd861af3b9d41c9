with source as (
    select * from {{ source('crm', 'text_sentiment') }}
    {{- live_rows_of_entities() }}
),

final as (
    select
        tenant_id,
        source_type,
        source_id,
        contact_id,
        company_id,
        {{ to_utc('occurred_at') }} as occurred_at,
        compound as sentiment_score
    from source
)

select * from final
