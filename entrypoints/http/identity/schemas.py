"""Request and response schemas of the identity API."""
from __future__ import annotations

import phonenumbers
from marshmallow import Schema, ValidationError, fields, validate

from domain.identity.roles import ORG_KINDS, ROLES
from entrypoints.http.schemas import PagedQuery, Strict


def validate_phone(value: str) -> None:
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("is not a valid phone number")


def normalize_phone(value: str) -> str:
    """A valid phone number (mainland China by default) in E.164, as users are stored."""
    validate_phone(value)
    return phonenumbers.format_number(phonenumbers.parse(value, "CN"), phonenumbers.PhoneNumberFormat.E164)


class Phone(fields.String):
    """A valid phone number (mainland China by default), stored in E.164."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        return normalize_phone(super()._deserialize(value, attr, data, **kwargs))


class Login(fields.String):
    """A user name, or a phone number as the user types it (normalised to E.164 to match).

    User names start with a letter, so anything else that parses as a phone is one."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if text and not text[0].isalpha():
            try:
                return normalize_phone(text)
            except ValidationError:
                return text
        return text


class TokenRequest(Strict):
    login = Login(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    challenge_id = fields.String(validate=validate.Length(max=40))
    sms_code = fields.String(validate=validate.Regexp(r"^\d{6}$", error="must be 6 digits"))


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    must_change_password = fields.Boolean(required=True)


class ChallengeResponse(Schema):
    challenge_id = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)
    phone_hint = fields.String(required=True)


class PasswordChange(Strict):
    old_password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class PasswordResetRequest(Strict):
    login = Login(required=True, validate=validate.Length(min=1, max=64))


class PasswordResetConfirm(Strict):
    sms_code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="must be 6 digits"))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RegistrationIn(Strict):
    type = fields.String(required=True, validate=validate.OneOf(["individual", "company"]),
                         metadata={"example": "company"})
    number = fields.String(required=True, validate=validate.Length(min=1, max=40),
                           metadata={"description": "individual: 18-character ID card number; company: "
                                                    "18-character unified social credit code",
                                     "example": "91310115MA1K3YJ12X"})


class OrganizationIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kinds = fields.List(fields.String(validate=validate.OneOf(ORG_KINDS)), required=True,
                        validate=validate.Length(min=1))
    registration = fields.Nested(RegistrationIn, load_default=None, allow_none=True)


class OrganizationPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=100))
    require_sms_login = fields.Boolean()


class OrganizationOut(Schema):
    id = fields.String()
    name = fields.String()
    kinds = fields.Method("_kinds")
    registration = fields.Method("_reg")
    require_sms_login = fields.Boolean()
    status = fields.String()
    created_at = fields.AwareDateTime()

    def _kinds(self, org):  # type: ignore[no-untyped-def]
        return sorted(org.kinds)

    def _reg(self, org):  # type: ignore[no-untyped-def]
        return {"type": org.registration.type, "number": org.registration.number} if org.registration else None


class OrganizationQuery(PagedQuery):
    kind = fields.String(validate=validate.OneOf(ORG_KINDS))
    name = fields.String(validate=validate.Length(max=100))


class AdminIn(Strict):
    login = fields.String(required=True, validate=validate.Length(min=3, max=64), metadata={"example": "zhangsan"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "Zhang San"})
    phone = Phone(required=True, metadata={"example": "13800138000"})
    email = fields.Email(load_default=None, allow_none=True, metadata={"example": "zs@example.com"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=128),
                             metadata={"description": "8-128 characters with letters and digits",
                                       "example": "Zhang12345"})


class SelfRegistration(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"example": "Acme Ltd"})
    registration = fields.Nested(RegistrationIn, required=True)
    admin = fields.Nested(AdminIn, required=True)


class UserIn(Strict):
    login = fields.String(required=True, validate=validate.Length(min=3, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = Phone(load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True)
    roles = fields.List(fields.String(validate=validate.OneOf(sorted(ROLES))), load_default=list)
    department_id = fields.String(load_default=None, allow_none=True)


class UserPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=100))
    phone = Phone(allow_none=True)
    email = fields.Email(allow_none=True)
    roles = fields.List(fields.String(validate=validate.OneOf(sorted(ROLES))))
    department_id = fields.String(allow_none=True)


class UserOut(Schema):
    id = fields.String()
    org_id = fields.String()
    login = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    department_id = fields.String(allow_none=True)
    position = fields.String(allow_none=True)
    status = fields.String()
    must_change_password = fields.Boolean()
    created_at = fields.AwareDateTime()


class CreatedUserOut(UserOut):
    one_time_password = fields.String(metadata={"description": "shown once; the user must change it"})


class UserQuery(PagedQuery):
    status = fields.String(validate=validate.OneOf(["active", "suspended", "cancelled", "deleted"]))
    role = fields.String(validate=validate.OneOf(sorted(ROLES)))
    department_id = fields.String()
    q = fields.String(validate=validate.Length(max=64))


class MeOut(Schema):
    user = fields.Nested(UserOut, allow_none=True)
    organization = fields.Nested(OrganizationOut)
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
    acting_for_org_id = fields.String(allow_none=True)


class MePatch(Strict):
    phone = Phone(allow_none=True)
    email = fields.Email(allow_none=True)


class DepartmentIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent_id = fields.String(load_default=None, allow_none=True)


class DepartmentPatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=100))
    parent_id = fields.String(allow_none=True)


class DepartmentOut(Schema):
    id = fields.String()
    org_id = fields.String()
    name = fields.String()
    parent_id = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class MembersChanged(Schema):
    changed = fields.Integer(required=True, metadata={"description": "how many users were moved"})


class MembersIn(Strict):
    user_ids = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=500))


class PositionIn(Strict):
    user_id = fields.String(required=True)
    position = fields.String(required=True, allow_none=True, validate=validate.OneOf(["head", "deputy"]))


class ApiKeyIn(Strict):
    name = fields.String(load_default="api key", validate=validate.Length(min=1, max=100))


class ApiKeyOut(Schema):
    id = fields.String()
    org_id = fields.String()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.AwareDateTime()
    created_by = fields.String(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
    last_used_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "when the key was last checked against the database (a verified key is "
                       "remembered per server process for up to 5 minutes)"})
    active = fields.Boolean()


class IssuedKeyOut(ApiKeyOut):
    key = fields.String(metadata={"description": "the full key, shown once"})


class PrincipalIn(Strict):
    principal_org_id = fields.String(required=True)


class ProviderLinkIn(Strict):
    provider_org_id = fields.String(required=True)


class RelationOut(Schema):
    id = fields.String()
    kind = fields.String()
    from_org_id = fields.String()
    to_org_id = fields.String()
    status = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class RelationQuery(Strict):
    status = fields.String(validate=validate.OneOf(["invited", "authorized", "terminated"]))


class AuditOut(Schema):
    id = fields.String()
    org_id = fields.String(allow_none=True)
    actor_id = fields.String(allow_none=True)
    acting_for_org_id = fields.String(allow_none=True)
    operation = fields.String()
    target = fields.String()
    summary = fields.String()
    at = fields.AwareDateTime()
    request_id = fields.String(allow_none=True)


class AuditQuery(PagedQuery):
    operation = fields.String(validate=validate.Length(max=100))
    actor_id = fields.String()
    since = fields.AwareDateTime(data_key="from")
    until = fields.AwareDateTime(data_key="to")


class InboxOut(Schema):
    id = fields.String()
    title = fields.String()
    body = fields.String()
    created_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


class InboxQuery(PagedQuery):
    unread = fields.Boolean(load_default=False)


class RoleOut(Schema):
    name = fields.String()
    org_kinds = fields.List(fields.String())
    permissions = fields.List(fields.String())
    description = fields.String()


def listed(item: type[Schema], name: str) -> type[Schema]:
    """An unpaged ``{items: [...]}`` answer, for OpenAPI."""
    return type(name, (Schema,), {"items": fields.List(fields.Nested(item), required=True)})


RoleList = listed(RoleOut, "RoleList")
DepartmentList = listed(DepartmentOut, "DepartmentList")
ApiKeyList = listed(ApiKeyOut, "ApiKeyList")
RelationList = listed(RelationOut, "RelationList")
