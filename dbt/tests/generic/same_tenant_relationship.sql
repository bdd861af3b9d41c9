{#- Tenant isolation proof for a foreign key: every non-null `column_name` finds its parent row in
    `to` with the SAME tenant_id. A row that joined to another tenant's parent, or to no parent,
    fails the test. -#}
{% test same_tenant_relationship(model, column_name, to, field, tenant_column='tenant_id') %}
select child.{{ tenant_column }}, child.{{ column_name }}
from {{ model }} as child
where child.{{ column_name }} is not null
  and not exists (
    select 1 from {{ to }} as parent
    where parent.{{ field }} = child.{{ column_name }}
      and parent.{{ tenant_column }} = child.{{ tenant_column }}
  )
{% endtest %}
