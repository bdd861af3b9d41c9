-- Per contact and as_of_date: engagement counts over 7/30/90 days before as_of (point in time).
{{ activity_window_features('contact_id',
    ['email_sent', 'email_opened', 'email_clicked', 'email_replied', 'web_visit', 'form_submit',
     'meeting', 'call'],
    [7, 30, 90]) }}
