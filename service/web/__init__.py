"""The workplace: HTML pages for the invoice administrator, in Swedish first (issue 13).

An interface like `service.http`: pages parse, call one use case, render; they import no store,
engine or database module.
"""

from service.web import assets, login

ROUTES = [assets.router(), login.login_page]
