"""SMS and e-mail senders: console (default), Aliyun SMS, SMTP, and recording fakes."""
