-- Per account and as_of_date: its whole order history before as_of (lifetime recency, frequency and spend).
{{ order_history_features('company_id') }}
