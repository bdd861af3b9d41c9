-- Per account and as_of_date: orders, support load and engagement before as_of (point in time).
{{ activity_window_features('company_id',
    ['order', 'support_ticket', 'meeting', 'call', 'email_replied', 'email_opened', 'web_visit'],
    [30, 90, 180]) }}
