"""Identity endpoints: thin views over IdentityService."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from application.identity import ChallengeRequired, IdentityService
from application.shared.access import Caller
from domain.identity.roles import permissions_of
from domain.shared.errors import Forbidden
from entrypoints.http.api import body, doc, dump, dump_page, page_request, query
from entrypoints.http.auth import authenticated, service
from entrypoints.http.identity import schemas as s
from entrypoints.http.schemas import NO_BODY, paged

bp = Blueprint("identity", __name__, url_prefix="/api/v1")
T = ["identity"]


def svc() -> IdentityService:
    return service(IdentityService)  # type: ignore[no-any-return]


def _ip() -> str | None:
    return request.remote_addr


# -- authentication --------------------------------------------------------------

@bp.post("/auth/token")
@doc(summary="Log in with login (user name or phone) and password; 202 asks for an SMS code",
     tags=["auth"], body_schema=s.TokenRequest, response=s.TokenResponse, auth=False, errors=(401, 409, 429),
     also={202: s.ChallengeResponse})
def token() -> Any:
    data = body(s.TokenRequest)
    result = svc().login(data["login"], data["password"], data.get("challenge_id"), data.get("sms_code"), _ip())
    if isinstance(result, ChallengeRequired):
        return dump(s.ChallengeResponse, result, 202)
    return dump(s.TokenResponse, result)


@bp.post("/auth/password")
@doc(summary="Change my password (required after a one-time password)", tags=["auth"],
     body_schema=s.PasswordChange, status=204)
@authenticated(allow_password_change=True)
def change_password(caller: Caller) -> Any:
    data = body(s.PasswordChange)
    svc().change_password(caller, data["old_password"], data["new_password"])
    return "", 204


@bp.post("/auth/password-resets")
@doc(summary="Forgotten password: send an SMS code to the registered phone", tags=["auth"],
     body_schema=s.PasswordResetRequest, response=s.ChallengeResponse, status=202, auth=False, errors=(404, 429))
def request_reset() -> Any:
    data = body(s.PasswordResetRequest)
    return dump(s.ChallengeResponse, svc().request_password_reset(data["login"], _ip()), 202)


@bp.post("/auth/password-resets/<challenge_id>/confirm")
@doc(summary="Set a new password with the SMS code", tags=["auth"], body_schema=s.PasswordResetConfirm,
     status=204, auth=False, errors=(401,))
def confirm_reset(challenge_id: str) -> Any:
    data = body(s.PasswordResetConfirm)
    svc().confirm_password_reset(challenge_id, data["sms_code"], data["new_password"])
    return "", 204


@bp.get("/me")
@doc(summary="Who am I: user, organisation, roles and permissions", tags=["auth"], response=s.MeOut)
@authenticated(allow_password_change=True)
def me(caller: Caller) -> Any:
    user, org = svc().me(caller)
    return dump(s.MeOut, {"user": user, "organization": org, "roles": list(caller.roles),
                          "permissions": sorted(caller.permissions), "acting_for_org_id": caller.acting_for_org_id})


@bp.patch("/me")
@doc(summary="Edit my own phone and e-mail", tags=["auth"], body_schema=s.MePatch, response=s.UserOut,
     errors=(409,))
@authenticated
def patch_me(caller: Caller) -> Any:
    data = body(s.MePatch)
    if caller.user_id is None:
        raise Forbidden("an API key is no user: it has no phone or e-mail", code="permission_denied")
    return dump(s.UserOut, svc().update_user(caller, caller.org_id, caller.user_id, **data))


@bp.get("/me/messages")
@doc(summary="My in-site messages", tags=["auth"], query_schema=s.InboxQuery,
     response=paged(s.InboxOut, "InboxPage"), paged=True)
@authenticated
def my_messages(caller: Caller) -> Any:
    args = query(s.InboxQuery)
    return dump_page(s.InboxOut, svc().inbox(caller, page_request(args), args["unread"]))


@bp.post("/me/messages/<message_id>/read")
@doc(summary="Mark an in-site message read", tags=["auth"], status=204)
@authenticated
def read_message(caller: Caller, message_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    svc().mark_read(caller, message_id)
    return "", 204


@bp.get("/roles")
@doc(summary="Platform-defined roles and their permissions", tags=T, response=s.RoleList)
@authenticated
def roles(caller: Caller) -> Any:
    return jsonify({"items": s.RoleOut(many=True).dump(IdentityService.roles())})


# -- organisations -------------------------------------------------------------------

@bp.post("/organizations")
@doc(summary="Create an organisation (platform admin)", tags=T, body_schema=s.OrganizationIn,
     response=s.OrganizationOut, status=201, errors=(403, 409))
@authenticated
def create_org(caller: Caller) -> Any:
    data = body(s.OrganizationIn)
    org = svc().create_organization(caller, data["name"], data["kinds"], data.get("registration"))
    return dump(s.OrganizationOut, org, 201)


@bp.get("/organizations")
@doc(summary="Organisations I can see (all, for the platform)", tags=T, query_schema=s.OrganizationQuery,
     response=paged(s.OrganizationOut, "OrganizationPage"), paged=True)
@authenticated
def list_orgs(caller: Caller) -> Any:
    args = query(s.OrganizationQuery)
    page = svc().list_organizations(caller, page_request(args), args.get("kind"), args.get("name"))
    return dump_page(s.OrganizationOut, page)


@bp.get("/organizations/<org_id>")
@doc(summary="One organisation", tags=T, response=s.OrganizationOut, errors=(404,))
@authenticated
def get_org(caller: Caller, org_id: str) -> Any:
    return dump(s.OrganizationOut, svc().get_organization(caller, org_id))


@bp.patch("/organizations/<org_id>")
@doc(summary="Rename, or require an SMS code at every login", tags=T, body_schema=s.OrganizationPatch,
     response=s.OrganizationOut)
@authenticated
def patch_org(caller: Caller, org_id: str) -> Any:
    data = body(s.OrganizationPatch)
    return dump(s.OrganizationOut, svc().update_organization(caller, org_id, **data))


@bp.post("/registrations")
@doc(summary="Customer self-registration with its first admin user", tags=T, body_schema=s.SelfRegistration,
     response=s.MeOut, status=201, auth=False, errors=(409, 422, 429))
def register() -> Any:
    data = body(s.SelfRegistration)
    admin = data["admin"]
    org, user = svc().register_customer(data["name"], data["registration"], admin["login"], admin["name"],
                                        admin["phone"], admin["password"], admin.get("email"), ip=_ip())
    return dump(s.MeOut, {"user": user, "organization": org, "roles": list(user.roles),
                          "permissions": sorted(permissions_of(user.roles)), "acting_for_org_id": None}, 201)


# -- users -------------------------------------------------------------------------------

@bp.post("/organizations/<org_id>/users")
@doc(summary="Create a user; the one-time password is shown once", tags=T, body_schema=s.UserIn,
     response=s.CreatedUserOut, status=201, errors=(403, 404, 409))
@authenticated
def create_user(caller: Caller, org_id: str) -> Any:
    data = body(s.UserIn)
    created = svc().create_user(caller, org_id, data["login"], data["name"], data.get("phone"), data["roles"],
                                data.get("department_id"), data.get("email"))
    out = s.UserOut().dump(created.user)
    out["one_time_password"] = created.one_time_password
    return jsonify(out), 201


@bp.get("/organizations/<org_id>/users")
@doc(summary="Users of an organisation", tags=T, query_schema=s.UserQuery,
     response=paged(s.UserOut, "UserPage"), paged=True)
@authenticated
def list_users(caller: Caller, org_id: str) -> Any:
    args = query(s.UserQuery)
    page = svc().list_users(caller, org_id, page_request(args), **args)
    return dump_page(s.UserOut, page)


@bp.get("/organizations/<org_id>/users/<user_id>")
@doc(summary="One user", tags=T, response=s.UserOut, errors=(404,))
@authenticated
def get_user(caller: Caller, org_id: str, user_id: str) -> Any:
    return dump(s.UserOut, svc().get_user(caller, org_id, user_id))


@bp.patch("/organizations/<org_id>/users/<user_id>")
@doc(summary="Edit a user (name, phone, e-mail, roles, department)", tags=T, body_schema=s.UserPatch,
     response=s.UserOut, errors=(409,))
@authenticated
def patch_user(caller: Caller, org_id: str, user_id: str) -> Any:
    data = body(s.UserPatch)
    return dump(s.UserOut, svc().update_user(caller, org_id, user_id, **data))


@bp.delete("/organizations/<org_id>/users/<user_id>")
@doc(summary="Delete a user (cannot log in any more; history stays)", tags=T, response=s.UserOut,
     errors=(409,))
@authenticated
def delete_user(caller: Caller, org_id: str, user_id: str) -> Any:
    return dump(s.UserOut, svc().change_status(caller, org_id, user_id, "delete"))


def _status_view(action: str) -> Any:
    @authenticated
    def view(caller: Caller, org_id: str, user_id: str) -> Any:
        body(NO_BODY)  # anything sent is refused (422)
        return dump(s.UserOut, svc().change_status(caller, org_id, user_id, action))

    view.__name__ = f"user_{action}"
    doc(summary=f"{action.capitalize()} a user", tags=T, response=s.UserOut, errors=(409,))(view)
    return view


for _action in ("suspend", "restore", "cancel"):
    bp.add_url_rule(f"/organizations/<org_id>/users/<user_id>/{_action}", view_func=_status_view(_action),
                    methods=["POST"])


@bp.post("/organizations/<org_id>/users/<user_id>/reset-password")
@doc(summary="Admin reset: a new one-time password, shown once", tags=T, response=s.CreatedUserOut)
@authenticated
def reset_password(caller: Caller, org_id: str, user_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    created = svc().reset_password(caller, org_id, user_id)
    out = s.UserOut().dump(created.user)
    out["one_time_password"] = created.one_time_password
    return jsonify(out)


# -- departments ---------------------------------------------------------------------------

@bp.post("/organizations/<org_id>/departments")
@doc(summary="Add a department (top level or child)", tags=T, body_schema=s.DepartmentIn,
     response=s.DepartmentOut, status=201)
@authenticated
def create_department(caller: Caller, org_id: str) -> Any:
    data = body(s.DepartmentIn)
    return dump(s.DepartmentOut, svc().create_department(caller, org_id, data["name"], data.get("parent_id")), 201)


@bp.get("/organizations/<org_id>/departments")
@doc(summary="The department tree, as a flat list with parent ids", tags=T, response=s.DepartmentList)
@authenticated
def list_departments(caller: Caller, org_id: str) -> Any:
    return jsonify({"items": s.DepartmentOut(many=True).dump(svc().list_departments(caller, org_id))})


@bp.patch("/organizations/<org_id>/departments/<dep_id>")
@doc(summary="Rename or move a department", tags=T, body_schema=s.DepartmentPatch, response=s.DepartmentOut)
@authenticated
def patch_department(caller: Caller, org_id: str, dep_id: str) -> Any:
    data = body(s.DepartmentPatch)
    dep = svc().update_department(caller, org_id, dep_id, name=data.get("name"),
                                  parent_id=data.get("parent_id"), move="parent_id" in data)
    return dump(s.DepartmentOut, dep)


@bp.delete("/organizations/<org_id>/departments/<dep_id>")
@doc(summary="Delete an empty department", tags=T, status=204, errors=(409,))
@authenticated
def delete_department(caller: Caller, org_id: str, dep_id: str) -> Any:
    svc().delete_department(caller, org_id, dep_id)
    return "", 204


@bp.post("/organizations/<org_id>/departments/<dep_id>/members")
@doc(summary="Add members in bulk (moves them from their department)", tags=T, body_schema=s.MembersIn,
     response=s.MembersChanged)
@authenticated
def add_members(caller: Caller, org_id: str, dep_id: str) -> Any:
    data = body(s.MembersIn)
    return jsonify({"changed": svc().set_members(caller, org_id, dep_id, data["user_ids"], add=True)})


@bp.post("/organizations/<org_id>/departments/<dep_id>/members/remove")
@doc(summary="Remove members in bulk", tags=T, body_schema=s.MembersIn, response=s.MembersChanged)
@authenticated
def remove_members(caller: Caller, org_id: str, dep_id: str) -> Any:
    data = body(s.MembersIn)
    return jsonify({"changed": svc().set_members(caller, org_id, dep_id, data["user_ids"], add=False)})


@bp.put("/organizations/<org_id>/departments/<dep_id>/position")
@doc(summary="Make a member head or deputy head (or neither)", tags=T, body_schema=s.PositionIn,
     response=s.UserOut, errors=(409,))
@authenticated
def set_position(caller: Caller, org_id: str, dep_id: str) -> Any:
    data = body(s.PositionIn)
    return dump(s.UserOut, svc().set_position(caller, org_id, dep_id, data["user_id"], data["position"]))


# -- relations ---------------------------------------------------------------------------------

@bp.post("/organizations/<org_id>/principals")
@doc(summary="Agency invites a merchant as principal", tags=T, body_schema=s.PrincipalIn,
     response=s.RelationOut, status=201, errors=(409,))
@authenticated
def invite_principal(caller: Caller, org_id: str) -> Any:
    data = body(s.PrincipalIn)
    return dump(s.RelationOut, svc().invite_principal(caller, org_id, data["principal_org_id"]), 201)


@bp.get("/organizations/<org_id>/principals")
@doc(summary="An agency's principals", tags=T, query_schema=s.RelationQuery, response=s.RelationList)
@authenticated
def list_principals(caller: Caller, org_id: str) -> Any:
    args = query(s.RelationQuery)
    rels = svc().list_relations(caller, org_id, "agency_principal", "from", args.get("status"))
    return jsonify({"items": s.RelationOut(many=True).dump(rels)})


@bp.get("/organizations/<org_id>/agencies")
@doc(summary="Agencies that invited or operate this merchant", tags=T, query_schema=s.RelationQuery,
     response=s.RelationList)
@authenticated
def list_agencies(caller: Caller, org_id: str) -> Any:
    args = query(s.RelationQuery)
    rels = svc().list_relations(caller, org_id, "agency_principal", "to", args.get("status"))
    return jsonify({"items": s.RelationOut(many=True).dump(rels)})


@bp.post("/organizations/<org_id>/providers")
@doc(summary="Platform links a vendor to a provider that may deliver its products", tags=T,
     body_schema=s.ProviderLinkIn, response=s.RelationOut, status=201, errors=(409,))
@authenticated
def link_provider(caller: Caller, org_id: str) -> Any:
    data = body(s.ProviderLinkIn)
    return dump(s.RelationOut, svc().link_provider(caller, org_id, data["provider_org_id"]), 201)


@bp.get("/organizations/<org_id>/providers")
@doc(summary="Providers linked to a vendor", tags=T, query_schema=s.RelationQuery, response=s.RelationList)
@authenticated
def list_providers(caller: Caller, org_id: str) -> Any:
    args = query(s.RelationQuery)
    rels = svc().list_relations(caller, org_id, "vendor_provider", "from", args.get("status"))
    return jsonify({"items": s.RelationOut(many=True).dump(rels)})


@bp.post("/relations/<rel_id>/accept")
@doc(summary="The invited merchant accepts an agency", tags=T, response=s.RelationOut, errors=(409,))
@authenticated
def accept_relation(caller: Caller, rel_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    return dump(s.RelationOut, svc().respond_relation(caller, rel_id, "accept"))


@bp.post("/relations/<rel_id>/terminate")
@doc(summary="Either side ends a relation", tags=T, response=s.RelationOut, errors=(409,))
@authenticated
def terminate_relation(caller: Caller, rel_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    return dump(s.RelationOut, svc().respond_relation(caller, rel_id, "terminate"))


# -- API keys -------------------------------------------------------------------------------

@bp.post("/organizations/<org_id>/api-keys")
@doc(summary="Issue an API key; the full key is shown once", tags=T, body_schema=s.ApiKeyIn,
     response=s.IssuedKeyOut, status=201)
@authenticated
def issue_key(caller: Caller, org_id: str) -> Any:
    data = body(s.ApiKeyIn)
    issued = svc().issue_api_key(caller, org_id, data["name"])
    out = s.ApiKeyOut().dump(issued.key)
    out["key"] = issued.secret
    return jsonify(out), 201


@bp.get("/organizations/<org_id>/api-keys")
@doc(summary="API keys (prefix only)", tags=T, response=s.ApiKeyList)
@authenticated
def list_keys(caller: Caller, org_id: str) -> Any:
    return jsonify({"items": s.ApiKeyOut(many=True).dump(svc().list_api_keys(caller, org_id))})


@bp.delete("/organizations/<org_id>/api-keys/<key_id>")
@doc(summary="Revoke an API key", tags=T, response=s.ApiKeyOut, errors=(404, 409))
@authenticated
def revoke_key(caller: Caller, org_id: str, key_id: str) -> Any:
    return dump(s.ApiKeyOut, svc().revoke_api_key(caller, org_id, key_id))


# -- operation log ----------------------------------------------------------------------------

@bp.get("/organizations/<org_id>/audit-log")
@doc(summary="Operation log, filtered by operation, actor and time (from/to)", tags=T,
     query_schema=s.AuditQuery, response=paged(s.AuditOut, "AuditPage"), paged=True)
@authenticated
def audit_log(caller: Caller, org_id: str) -> Any:
    args = query(s.AuditQuery)
    page = svc().audit_log(caller, org_id, page_request(args), **args)
    return dump_page(s.AuditOut, page)
