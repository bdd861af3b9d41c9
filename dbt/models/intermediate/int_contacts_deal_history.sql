-- Per contact and as_of_date: the deals it has won and lost before as_of (the cool-off after a lost deal).
{{ deal_history_features('contact_id') }}
