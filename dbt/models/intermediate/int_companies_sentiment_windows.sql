-- Per account and as_of_date: sentiment of its notes and conversations in the 90 days before as_of.
{{ sentiment_window_features('company_id') }}
