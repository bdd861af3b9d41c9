-- Per contact and as_of_date: sentiment of their notes and conversations in the 90 days before as_of.
{{ sentiment_window_features('contact_id') }}
