-- Per company and as_of_date: the deals it has won and lost before as_of (expansion deals won or lost).
{{ deal_history_features('company_id') }}
