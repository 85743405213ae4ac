#!/usr/bin/env python3
"""pycasbin oracle for latchkey-authz's differential tests.

Answers requests the way released openedx-authz 0.23.0 does: a pycasbin
Enforcer over the given model.conf and policy, with openedx-authz's own
``is_admin_or_superuser_check`` (imported from the installed package, with its
Django-backed imports replaced by small stand-ins that look users up in the
case's user list) registered as ``is_staff_or_superuser``, exactly as
``openedx_authz.engine.enforcer`` registers it. With ``domain_matching`` it
adds keyMatch domain matching on ``g`` as openedx-authz HEAD does.

Input: JSON lines on stdin (or the file named as the only argument), one case
per line::

    {"model": "path/to/model.conf",      # or omitted: the installed package's
     "policy": "p, ...\\ng, ...",         # policy CSV text (file adapter)
     "rows": [["g", "v0", ..., "v5"]],    # optional casbin_rule rows
     "domain_matching": false,
     "users": [{"username": "...", "email": "...", "is_staff": true,
                "is_superuser": false}],
     "requests": [["user^alice", "act^...", "lib^..."], ...]}

Output: one JSON line per case, ``{"decisions": [...]}`` with ``true``,
``false`` or ``"error:<ExceptionType>"`` per request.

Set up: see crates/authz/tests/oracle/requirements.txt.
"""

import json
import os
import sys
import tempfile
import types


class _DoesNotExist(Exception):
    pass


class _MultipleObjectsReturned(Exception):
    pass


class _User:
    DoesNotExist = _DoesNotExist
    MultipleObjectsReturned = _MultipleObjectsReturned

    def __init__(self, record):
        self.username = record.get("username", "")
        self.email = record.get("email", "")
        self.is_staff = bool(record.get("is_staff", False))
        self.is_superuser = bool(record.get("is_superuser", False))


CURRENT_USERS = []


def _get_user_by_username_or_email(username_or_email):
    """Stand-in for openedx_authz.rest_api.utils.get_user_by_username_or_email:
    ``User.objects.get(Q(email=x) | Q(username=x))``."""
    found = [u for u in CURRENT_USERS if u.email == username_or_email or u.username == username_or_email]
    if not found:
        raise _User.DoesNotExist()
    if len(found) > 1:
        raise _User.MultipleObjectsReturned()
    return found[0]


class _Miss:
    is_found = False
    value = None


class _RequestCache:
    """Stand-in for edx_django_utils.cache.RequestCache: always a miss (each
    check is its own request)."""

    def __init__(self, namespace=None):
        self.namespace = namespace

    def get_cached_response(self, key):
        return _Miss()

    def set(self, key, value):
        pass


def _stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def load_staff_check():
    """Import openedx-authz's real matcher with its Django imports stubbed."""
    import openedx_authz  # its __init__ only imports os

    root = os.path.dirname(openedx_authz.__file__)
    # openedx_authz/api/__init__.py pulls in the Django-backed API; expose
    # the package without running it, so that api/data.py imports alone.
    api = types.ModuleType("openedx_authz.api")
    api.__path__ = [os.path.join(root, "api")]
    sys.modules["openedx_authz.api"] = api

    _stub("django")
    _stub("django.contrib")
    _stub("django.contrib.auth", get_user_model=lambda: _User)
    _stub("edx_django_utils")
    _stub("edx_django_utils.cache", RequestCache=_RequestCache)
    _stub("openedx_authz.rest_api")
    _stub("openedx_authz.rest_api.utils", get_user_by_username_or_email=_get_user_by_username_or_email)

    from openedx_authz.engine.matcher import is_admin_or_superuser_check

    return is_admin_or_superuser_check, os.path.join(root, "engine", "config")


def rule_row_text(row):
    """casbin_adapter.models.CasbinRule.__str__."""
    text = row[0]
    for value in row[1:7]:
        if value:
            text = text + ", " + value
    return text


def run_case(case, staff_check, config_dir):
    import casbin
    from casbin import persist
    from casbin.util import key_match_func

    global CURRENT_USERS
    CURRENT_USERS = [_User(u) for u in case.get("users", [])]
    model = case.get("model") or os.path.join(config_dir, "model.conf")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as f:
        f.write(case.get("policy", ""))
        policy_path = f.name
    try:
        enforcer = casbin.Enforcer(model, policy_path)
    finally:
        os.unlink(policy_path)
    enforcer.add_function("is_staff_or_superuser", staff_check)
    rows = case.get("rows") or []
    if rows:
        for row in rows:
            persist.load_policy_line(rule_row_text(row), enforcer.get_model())
        enforcer.build_role_links()
    if case.get("domain_matching"):
        enforcer.add_named_domain_matching_func("g", key_match_func)
    decisions = []
    for sub, act, scope in case["requests"]:
        try:
            decisions.append(bool(enforcer.enforce(sub, act, scope)))
        except Exception as error:  # the exception type is the answer
            decisions.append("error:" + type(error).__name__)
    return decisions


def main():
    import logging

    logging.disable(logging.CRITICAL)
    staff_check, config_dir = load_staff_check()
    source = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    out = sys.stdout
    for line in source:
        line = line.strip()
        if not line:
            continue
        if line == '"where"':
            out.write(json.dumps({"config_dir": config_dir}) + "\n")
            out.flush()
            continue
        out.write(json.dumps({"decisions": run_case(json.loads(line), staff_check, config_dir)}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
