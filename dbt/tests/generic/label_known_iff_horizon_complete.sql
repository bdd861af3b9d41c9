{#- A label is NULL exactly when its horizon runs past the end of the data (unknown, not 0). -#}
{% test label_known_iff_horizon_complete(model, column_name, as_of_column='as_of_date') %}
with bounds as (select data_end_date from {{ ref('int_data_bounds') }})
select m.{{ as_of_column }}, m.{{ column_name }}
from {{ model }} as m
cross join bounds as b
where (m.{{ column_name }} is null) <> (m.{{ as_of_column }} + {{ horizon_interval() }} > b.data_end_date)
{% endtest %}
