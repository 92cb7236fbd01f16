"""Identity errors with their stable codes."""
from domain.shared.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class AccountDisabled(Unauthorized):
    code = "account_disabled"


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"


class LoginTaken(Conflict):
    code = "login_taken"


class PhoneTaken(Conflict):
    code = "phone_taken"


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"


class DepartmentNotEmpty(Conflict):
    code = "department_not_empty"


class SmsCodeInvalid(Unauthorized):
    code = "sms_code_invalid"


class SmsCodeExpired(Unauthorized):
    code = "sms_code_expired"


class SmsAttemptsExceeded(Unauthorized):
    code = "sms_attempts_exceeded"


class SmsRateLimited(RateLimited):
    code = "sms_rate_limited"


class LoginRateLimited(RateLimited):
    code = "login_rate_limited"


class WeakPassword(ValidationFailed):
    pass


class OrganizationNotFound(NotFound):
    code = "organization_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


__all__ = [
    "AccountDisabled", "DepartmentNotEmpty", "InvalidCredentials", "InvalidStatusTransition",
    "LoginRateLimited", "LoginTaken", "OrganizationNotFound", "PasswordChangeRequired", "PhoneTaken",
    "SmsAttemptsExceeded", "SmsCodeExpired", "SmsCodeInvalid", "SmsRateLimited", "UserNotFound",
    "WeakPassword",
]
