"""Notifications module public API: notify a user by in-site message, SMS and e-mail."""
from application.notifications.services import CHANNELS, DEFAULT_SMS_TEMPLATE, Delivery, UserNotifier

__all__ = ["CHANNELS", "DEFAULT_SMS_TEMPLATE", "Delivery", "UserNotifier"]
