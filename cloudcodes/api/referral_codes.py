"""``GET /api/v1/referral-codes/{code}?domain=...``: whether a code holds for a domain, for the checkout."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from cloudcodes.api import blueprint, schemas
from cloudcodes.api.errors import ApiError
from cloudcodes.extensions import limiter
from cloudcodes.referrals.services import CodeCheck, check_code
from cloudcodes.services import reads_one_statement

REFERRAL_CODE_LIMIT = "60/minute"  # per client address; a checkout asks once per customer, not in bulk


def code_check_body(check: CodeCheck) -> schemas.CodeCheck:
    partner = None
    if check.ok and check.partner is not None:
        partner = schemas.CodePartner.model_construct(name=check.partner.name, level=check.level)
    return schemas.CodeCheck.model_construct(
        code=check.code,
        domain=check.domain,
        valid=check.ok,
        reason=check.reason,
        message=check.message,
        partner=partner,
    )


@blueprint.get("/referral-codes/<code>")
@limiter.limit(REFERRAL_CODE_LIMIT)
def referral_code(code: str) -> ResponseReturnValue:
    domain = request.args.get("domain", "")
    if not domain.strip():
        raise ApiError(
            400,
            "missing_parameter",
            "Give the customer's domain as the domain query parameter, e.g. ?domain=acme.com: a code holds "
            "for one domain only.",
            field="domain",
        )
    reads_one_statement()  # the check is one statement: the checkout asks it often, and it waits
    return jsonify(code_check_body(check_code(code, domain)).model_dump(mode="json"))
