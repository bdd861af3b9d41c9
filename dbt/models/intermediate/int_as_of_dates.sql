-- Month-end snapshot dates for the point-in-time feature marts.
-- as_of_at is the end of as_of_date (next midnight, UTC): a feature sees events with occurred_at < as_of_at;
-- a label looks at [as_of_at, horizon_end_at). A label is known only if the horizon ends inside the data.
-- With the as_of_at var (or in a live compile) it is one instant instead: as_of_date is the day it falls on,
-- features see what happened before it, and no label is known yet (serving features: "as of now").
{% if as_of_instant() %}
select
    cast({{ as_of_instant() }} as date) as as_of_date,
    {{ as_of_instant() }} as as_of_at,
    {{ as_of_instant() }} + {{ horizon_interval() }} as horizon_end_at,
    false as is_horizon_complete
{% else %}
with bounds as (select * from {{ ref('int_data_bounds') }}),

limits as (
    select
        {% if var('as_of_start_date') %}
        cast('{{ var("as_of_start_date") }}' as date) as first_as_of_date,
        {% else %}
        cast(date_trunc('month', cast(data_start_date as timestamp)) + interval '1 month' - interval '1 day' as date)
            as first_as_of_date,
        {% endif %}
        {% if var('as_of_end_date') %}
        least(cast('{{ var("as_of_end_date") }}' as date), data_end_date) as last_as_of_date,
        {% else %}
        data_end_date as last_as_of_date,
        {% endif %}
        data_end_date
    from bounds
),

month_offsets as (
    select n from generate_series(0, 600) as offsets(n)
),

spine as (
    select
        cast(
            date_trunc('month', cast(l.first_as_of_date as timestamp))
            + o.n * interval '1 month' + interval '1 month' - interval '1 day'
        as date) as as_of_date,
        l.last_as_of_date,
        l.data_end_date
    from limits as l
    cross join month_offsets as o
),

final as (
    select
        as_of_date,
        cast(as_of_date as timestamp) + interval '1 day' as as_of_at,
        cast(as_of_date as timestamp) + interval '1 day' + {{ horizon_interval() }} as horizon_end_at,
        (as_of_date + {{ horizon_interval() }} <= data_end_date) as is_horizon_complete
    from spine
    where as_of_date <= last_as_of_date
)

select * from final
{% endif %}
